"""How close a fixed-point run is to its K=300 iterate when it stops at tol, on held-out DAVIS crops.

For choosing a tolerance without touching the benchmark scenes: each crop of the held-out
validation scenes (the training config's, never trained on) is coded with one fixed random
mask and solved through the engine with tol=0 for K iterations. For each candidate tol the
benchmark prints the first iteration whose residual reaches it and PSNR(K) minus the PSNR there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from sci_viewer.benchmarks.de_gap import given_settings, psnr_trace, tol_to_k
from sci_viewer.capture import Capture
from sci_viewer.training.config import DataConfig
from sci_viewer.training.data import default_root, validation_set

FIXED_POINT_ALGOS = ("de-gap", "de-rnn")


def _tolerances(text: str) -> list[float]:
    """``"1e-4,5e-5"`` -> ``[1e-4, 5e-5]``, largest first; each must be a positive number."""
    try:
        tols = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not tols or min(tols) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive tolerances, got {text!r}")
    return sorted(tols, reverse=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", default="de-gap", choices=FIXED_POINT_ALGOS)
    p.add_argument("--model", help="model name or .pt file (default: the algorithm's)")
    p.add_argument("--tols", type=_tolerances, default="1e-4,5e-5,3e-5,2e-5,1e-5", help="comma-separated tolerances")
    p.add_argument("--gap-tv-start", type=int, help="GAP-TV start iterations (default: the algorithm's)")
    p.add_argument("--k", type=_positive, default=300, help="iterations of each tol=0 run")
    p.add_argument("--per-scene", type=_positive, default=2, help="crops per held-out scene")
    p.add_argument("--size", type=_positive, default=256, help="crop size (square)")
    p.add_argument("--frames", type=_positive, default=8, help="B")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--json", help="save all figures here")


def validation_capture(size: int, frames: int, per_scene: int, seed: int = 4321) -> Capture:
    """The held-out crops as one simulated capture (one measurement per crop, one random mask)."""
    scenes = DataConfig().val_scenes
    truth = validation_set(default_root(), scenes, size, frames, per_scene).numpy().astype(np.float64) * 255
    mask = (np.random.default_rng(seed).random((frames, size, size)) < 0.5).astype(np.float64)
    return Capture(meas=(truth * mask).sum(axis=1), mask=mask, truth=truth,
                   name=f"held-out DAVIS crops ({', '.join(scenes)})")


def drift_rows(psnrs: list[float], residuals: list[float], tols: list[float]) -> list[dict[str, Any]]:
    rows = []
    for tol in tols:
        k, at_tol, diff = tol_to_k(psnrs, residuals, tol)
        rows.append({"tol": tol, "k": k, "psnr_at_tol": at_tol, "diff_db": diff})
    return rows


def run(args: argparse.Namespace) -> int:
    tols = args.tols
    capture = validation_capture(args.size, args.frames, args.per_scene)
    settings = dict(given_settings(args, ("model", "gap_tv_start")), tol=0.0, max_iter=args.k)
    print(f"{args.algo} on {capture.name}: {capture.n_meas} crops of {args.frames}x{args.size}x{args.size}, "
          f"tol=0 to K={args.k}")
    crops = []
    for i in range(capture.n_meas):
        psnrs, residuals = psnr_trace(capture, args.algo, settings, i, args.device)
        rows = drift_rows(psnrs, residuals, tols)
        crops.append({"crop": i, "psnr_k": psnrs[-1], "residual_k": residuals[-1], "tols": rows})
        cells = " | ".join(f"{r['tol']:.0e}: K={r['k']} {r['diff_db']:+.3f}" if r["k"] else f"{r['tol']:.0e}: never"
                           for r in rows)
        print(f"crop {i}: PSNR(K) {psnrs[-1]:.2f} dB | {cells}", flush=True)
    print("\ntol      mean K   worst |PSNR(K) - PSNR(tol)|   crops reaching tol")
    summary = []
    for j, tol in enumerate(tols):
        hits = [c["tols"][j] for c in crops if c["tols"][j]["k"]]
        mean_k = float(np.mean([h["k"] for h in hits])) if hits else None
        worst = max((abs(h["diff_db"]) for h in hits), default=None)
        summary.append({"tol": tol, "mean_k": mean_k, "worst_abs_diff_db": worst, "reached": len(hits)})
        k_txt = f"{mean_k:6.1f}" if mean_k is not None else "   n/a"
        w_txt = f"{worst:.3f} dB" if worst is not None else "n/a"
        print(f"{tol:.0e}   {k_txt}   {w_txt:>26}   {len(hits)}/{len(crops)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"algo": args.algo, "model": args.model, "k": args.k, "crops": crops, "summary": summary},
                      fh, indent=1)
    return 0
