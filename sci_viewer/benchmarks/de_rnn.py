"""DE-RNN on the benchmark scenes beside GAP-TV (and DE-GAP): PSNR, SSIM, seconds, iterations to tol.

The rows are the benchmark table's (traffic48 all measurements, runner40 and drop40 measurement 0),
compared with the seed paper's DE-RNN figures; then DE-RNN's stability (tol=0 run to K, PSNR at K
minus PSNR where the residual first reached tol). All runs go through the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch

from sci_viewer.algorithms import get_algorithm
from sci_viewer.benchmarks._scenes import BENCHMARK_SCENES, load_scene
from sci_viewer.benchmarks.de_gap import given_settings, psnr_trace, quality_rows, tol_to_k

PAPER_DERNN_DB = {"traffic48": 19.47, "runner40": 27.85, "drop40": 30.16}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="dernn-default", help="DE-RNN model name or .pt file")
    p.add_argument("--degap-model", default="degap-default",
                   help="also run DE-GAP with this model (empty: skip DE-GAP)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--scenes", default=",".join(BENCHMARK_SCENES), help="comma-separated scene names")
    p.add_argument("--tol", type=float, help="DE-RNN tolerance (default: the algorithm's)")
    p.add_argument("--max-iter", type=int, help="DE-RNN iteration cap (default: the algorithm's)")
    p.add_argument("--gap-tv-start", type=int, help="DE-RNN's GAP-TV start iterations (default: the algorithm's)")
    p.add_argument("--estimate-error", type=float,
                   help="DE-RNN's estimate_error (0-255; 0: the exact GAP projection; default: the algorithm's)")
    p.add_argument("--clip", action="store_true", help="keep DE-RNN's iterates in [0, 1] (off by default)")
    p.add_argument("--k", type=int, default=300, help="iterations of the stability runs (0: skip)")
    p.add_argument("--json", help="save all figures here")


def run(args: argparse.Namespace) -> int:
    scenes = [s for s in args.scenes.split(",") if s]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, load average {load}, "
          f"device {args.device}, model {args.model}")
    rnn = given_settings(args)
    if args.clip:
        rnn["clip"] = True
    algos: dict[str, dict[str, Any]] = {"gap-tv": {}}
    if args.degap_model:
        algos["de-gap"] = {"model": args.degap_model}
    algos["de-rnn"] = rnn
    print(f"{'scene':10} {'algo':8} {'PSNR':>7} {'SSIM':>7} {'s/meas':>8} {'iters':>6} {'conv':>7} {'residual':>9}")
    t0 = time.perf_counter()
    rows, captures = [], {}
    for scene in scenes:
        captures[scene] = load_scene(scene)
        rows += quality_rows(scene, captures[scene], BENCHMARK_SCENES[scene], algos, args.device)
    by = {(r["scene"], r["algo"]): r for r in rows}
    print()
    for scene in scenes:
        r, paper = by[scene, "de-rnn"], PAPER_DERNN_DB.get(scene)
        verdict = "" if paper is None else f"; paper's DE-RNN {paper:.2f} dB: {'beaten' if r['psnr'] > paper else 'NOT beaten'}"
        print(f"DE-RNN on {scene:10}: {r['psnr']:.2f} dB, {r['ssim']:.4f} SSIM, {r['seconds_per_measurement']:.2f} s, "
              f"{r['iterations']:.1f} iterations, {r['converged']}/{r['measurements']} reached tol{verdict}")
    print("mean PSNR over scenes: " + ", ".join(
        f"{a} {np.mean([by[s, a]['psnr'] for s in scenes]):.2f} dB" for a in algos))
    stab = []
    if args.k > 0:
        tol = rnn.get("tol", get_algorithm("de-rnn").settings().tol)
        print(f"\nstability: DE-RNN with tol=0 to K={args.k} (first measurement of each scene)")
        for scene in scenes:
            index = BENCHMARK_SCENES[scene][0]
            psnrs, residuals = psnr_trace(captures[scene], "de-rnn", dict(rnn, tol=0.0, max_iter=args.k), index,
                                          args.device)
            k_conv, psnr_conv, diff = tol_to_k(psnrs, residuals, tol)
            stab.append({"scene": scene, "measurement": index, "k": len(psnrs), "k_converged": k_conv,
                         "psnr_converged": psnr_conv, "psnr_k": psnrs[-1], "diff_db": diff,
                         "residual_k": residuals[-1]})
            print(f"{scene:10} #{index:<2} reached tol at k={k_conv}; PSNR then "
                  f"{'n/a' if psnr_conv is None else f'{psnr_conv:.3f}'} -> K={len(psnrs)}: {psnrs[-1]:.3f} "
                  f"(diff {'n/a' if diff is None else f'{diff:+.3f}'} dB, residual {residuals[-1]:.1e})", flush=True)
    print(f"(benchmark wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "device": args.device, "threads": torch.get_num_threads(),
                       "load_average_start": load, "paper_dernn_db": PAPER_DERNN_DB, "rows": rows,
                       "stability": stab}, fh, indent=2)
    return 0
