"""DE-GAP vs GAP-TV and PnP-GAP on the benchmark scenes: quality, speed, iterations, stability.

Prints one row per scene and algorithm (PSNR, SSIM, solver seconds per measurement, iterations),
then the stability check: DE-GAP run with tol=0 to K iterations (PSNR at K minus PSNR where the
residual first reached the default tol; target |diff| < 0.05 dB) and PnP-GAP run to K with its
last noise level repeated (PSNR at its peak vs at K: the drift DE-GAP removes). All runs go
through the engine, so the figures are the product's.
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
from sci_viewer.capture import Capture
from sci_viewer.engine import Job, JobFinished, execute
from sci_viewer.settings import resolve_device

ALGOS = ("gap-tv", "pnp-gap", "de-gap")
TARGET_GAIN_DB = 2.0
TARGET_PNP_GAIN_DB = 1.5  # PnP-GAP with its defaults (issue 16)
TARGET_SECONDS = 7.0        # on the 2-core CPU
TARGET_SECONDS_GPU = 0.1    # on an H100
TARGET_STABILITY_DB = 0.05


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="DE-GAP model name or .pt file (default: DE-GAP's)")
    p.add_argument("--pnp-model", help="PnP-GAP denoiser name or .pt file (default: PnP-GAP's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--scenes", default=",".join(BENCHMARK_SCENES), help="comma-separated scene names")
    p.add_argument("--tol", type=float, help="DE-GAP tolerance (default: the algorithm's)")
    p.add_argument("--max-iter", type=int, help="DE-GAP iteration cap (default: the algorithm's)")
    p.add_argument("--gap-tv-start", type=int, help="DE-GAP's GAP-TV start iterations (default: the algorithm's)")
    p.add_argument("--estimate-error", type=float,
                   help="DE-GAP's estimate_error (0-255; 0: the exact GAP projection; default: the algorithm's)")
    p.add_argument("--ensemble", type=int, help="DE-GAP's denoiser self-ensemble: 1, 2, 4 or 8 (default: the algorithm's)")
    p.add_argument("--pnp-ensemble", type=int,
                   help="PnP-GAP's denoiser self-ensemble: 1, 2, 4 or 8 (default: the algorithm's)")
    p.add_argument("--k", type=int, default=300, help="iterations of the stability runs")
    p.add_argument("--no-stability", action="store_true", help="skip the K-iteration stability runs")
    p.add_argument("--json", help="save all figures here")


SOLVER_FLAGS = ("model", "tol", "max_iter", "gap_tv_start", "estimate_error", "ensemble")


def given_settings(args: argparse.Namespace, names: tuple[str, ...] = SOLVER_FLAGS) -> dict[str, Any]:
    """The settings among ``names`` that the command line gave (flags left out keep the algorithm's)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _settings(algo: str, args: argparse.Namespace) -> dict[str, Any]:
    if algo == "gap-tv":
        return {}
    if algo == "de-gap":
        return given_settings(args)
    pnp = {"model": getattr(args, "pnp_model", None), "ensemble": getattr(args, "pnp_ensemble", None)}
    return {k: v for k, v in pnp.items() if v is not None and v != ""}


def _row(scene: str, algo: str, fin: JobFinished) -> dict[str, Any]:
    rep = fin.report()
    res = fin.results
    return {
        "scene": scene, "algo": algo, "psnr": rep["mean_psnr"], "ssim": rep["mean_ssim"],
        "seconds_per_measurement": float(np.mean([r.seconds for r in res])),
        "iterations": float(np.mean([r.iterations for r in res])),
        "converged": sum(r.converged for r in res), "measurements": len(res),
        "final_residual": float(np.max([r.final_residual for r in res])),
        "per_measurement_psnr": [r.psnr for r in res],
    }


def quality_rows(scene: str, capture: Capture, indices: list[int], algos: dict[str, dict[str, Any]],
                 device: str) -> list[dict[str, Any]]:
    """One timed engine run per algorithm (settings in ``algos``) over ``indices``; prints a row each."""
    for algo, settings in algos.items():  # a bad setting is named before any algorithm runs
        get_algorithm(algo).settings(**settings)
    rows = []
    for algo, settings in algos.items():
        # Warm-up (model load, allocator, kernel selection) on a short run, not timed.
        cap_key = get_algorithm(algo).iteration_field
        execute(Job(capture, algo, dict(settings, **{cap_key: 2}) if cap_key else settings, device=device,
                    measurements=indices[:1], track_metrics=False))
        fin = execute(Job(capture, algo, settings, device=device, measurements=indices,
                          track_metrics=False, preview_every=10**9, ssim_every=10**9))
        row = _row(scene, algo, fin)
        rows.append(row)
        print(f"{scene:10} {algo:8} {row['psnr']:7.2f} {row['ssim']:7.4f} {row['seconds_per_measurement']:8.2f} "
              f"{row['iterations']:6.1f} {row['converged']:>3}/{row['measurements']:<3} {row['final_residual']:9.2e}",
              flush=True)
    return rows


def psnr_trace(capture: Capture, algo: str, settings: dict[str, Any], index: int, device: str) -> tuple[list, list]:
    fin = execute(Job(capture, algo, settings, device=device, measurements=[index], preview_every=10**9,
                      ssim_every=10**9))
    return [e.psnr for e in fin.trace], [e.residual for e in fin.trace]


def tol_to_k(psnrs: list[float], residuals: list[float], tol: float) -> tuple[int | None, float | None, float | None]:
    """Of a tol=0 trace: the first iteration whose residual is <= ``tol`` (1-based), the PSNR there,
    and the PSNR at the last iteration minus it (``None`` when ``tol`` was never reached)."""
    k = next((i + 1 for i, r in enumerate(residuals) if r <= tol), None)
    if k is None:
        return None, None, None
    return k, psnrs[k - 1], psnrs[-1] - psnrs[k - 1]


def _stability(scene: str, capture: Capture, index: int, args: argparse.Namespace) -> dict[str, Any]:
    k = args.k
    tol = args.tol if args.tol is not None else get_algorithm("de-gap").settings().tol
    psnrs, residuals = psnr_trace(capture, "de-gap", dict(_settings("de-gap", args), tol=0.0, max_iter=k),
                                   index, args.device)
    k_conv, psnr_conv, diff_db = tol_to_k(psnrs, residuals, tol)
    pnp_psnr, _ = psnr_trace(capture, "pnp-gap", dict(_settings("pnp-gap", args), iterations=k), index, args.device)
    peak = int(np.argmax(pnp_psnr))
    row = {
        "scene": scene, "measurement": index, "k": len(psnrs), "tol": tol,
        "degap_k_converged": k_conv, "degap_psnr_converged": psnr_conv, "degap_psnr_k": psnrs[-1],
        "degap_diff_db": diff_db,
        "degap_residual_k": residuals[-1], "degap_min_residual": float(np.min(residuals)),
        "pnp_peak_k": peak + 1, "pnp_peak_psnr": pnp_psnr[peak], "pnp_psnr_k": pnp_psnr[-1],
        "pnp_drift_db": pnp_psnr[-1] - pnp_psnr[peak],
    }
    diff = "  n/a (tol never reached)" if psnr_conv is None else f"{row['degap_diff_db']:+9.3f}"
    print(f"{scene:10} #{index:<2} DE-GAP k_conv={k_conv} PSNR {psnr_conv if psnr_conv is None else round(psnr_conv, 3)}"
          f" -> K={len(psnrs)}: {psnrs[-1]:.3f} (diff {diff} dB, residual {residuals[-1]:.1e});  "
          f"PnP-GAP peak {pnp_psnr[peak]:.3f} @k={peak + 1} -> K: {pnp_psnr[-1]:.3f} "
          f"(drift {row['pnp_drift_db']:+.3f} dB)", flush=True)
    return row


def _summary(rows: list[dict[str, Any]], stab: list[dict[str, Any]], device: str) -> dict[str, Any]:
    by = {(r["scene"], r["algo"]): r for r in rows}
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    out: dict[str, Any] = {"mean_psnr": {}, "gain_over_gap_tv": {}}
    print("\nmean PSNR over scenes: " + ", ".join(
        f"{a} {np.mean([by[s, a]['psnr'] for s in scenes]):.2f} dB" for a in ALGOS))
    for a in ALGOS:
        out["mean_psnr"][a] = float(np.mean([by[s, a]["psnr"] for s in scenes]))
    for s in scenes:
        gain = by[s, "de-gap"]["psnr"] - by[s, "gap-tv"]["psnr"]
        out["gain_over_gap_tv"][s] = gain
        print(f"DE-GAP - GAP-TV on {s:10}: {gain:+.2f} dB (target >= +{TARGET_GAIN_DB:.0f}) "
              f"{'met' if gain >= TARGET_GAIN_DB else 'NOT met'}")
    out["pnp_gain_over_gap_tv"] = {}
    for s in scenes:
        gain = by[s, "pnp-gap"]["psnr"] - by[s, "gap-tv"]["psnr"]
        out["pnp_gain_over_gap_tv"][s] = gain
        print(f"PnP-GAP - GAP-TV on {s:10}: {gain:+.2f} dB (target >= +{TARGET_PNP_GAIN_DB:.1f}) "
              f"{'met' if gain >= TARGET_PNP_GAIN_DB else 'NOT met'}")
    secs = max(by[s, "de-gap"]["seconds_per_measurement"] for s in scenes)
    out["degap_max_seconds"] = secs
    target, where = (TARGET_SECONDS, "the 2-core CPU") if device == "cpu" else (TARGET_SECONDS_GPU, "an H100")
    print(f"DE-GAP slowest scene: {secs:.3f} s per measurement on {device} (target <= {target:g} s on {where}) "
          f"{'met' if secs <= target else 'NOT met'}")
    if stab:
        diffs = [abs(r["degap_diff_db"]) for r in stab if r["degap_diff_db"] is not None]
        worst = max(diffs) if len(diffs) == len(stab) else None
        out["degap_worst_stability_db"] = worst
        verdict = "n/a: tol not reached" if worst is None else (
            f"{worst:.3f} dB {'met' if worst < TARGET_STABILITY_DB else 'NOT met'}")
        print(f"DE-GAP |PSNR(K) - PSNR(converged)| worst: {verdict} (target < {TARGET_STABILITY_DB} dB); "
              f"PnP-GAP drift: " + ", ".join(f"{r['scene']} {r['pnp_drift_db']:+.2f} dB" for r in stab))
    return out


def _default(algo: str, name: str = "model") -> Any:
    return getattr(get_algorithm(algo).settings(), name)


def _given(value: Any, algo: str, name: str) -> Any:
    """A setting as the command line gave it, else the algorithm's default."""
    return value if value is not None else _default(algo, name)


def run(args: argparse.Namespace) -> int:
    scenes = [s for s in args.scenes.split(",") if s]
    device_type = resolve_device(args.device).type  # a missing GPU is named before any work
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, load average {load}, "
          f"device {args.device}, DE-GAP model {args.model or _default('de-gap')}, "
          f"PnP-GAP model {args.pnp_model or _default('pnp-gap')}, ensembles (DE-GAP, PnP-GAP) "
          f"{_given(args.ensemble, 'de-gap', 'ensemble')}, {_given(args.pnp_ensemble, 'pnp-gap', 'ensemble')}")
    print(f"{'scene':10} {'algo':8} {'PSNR':>7} {'SSIM':>7} {'s/meas':>8} {'iters':>6} {'conv':>7} {'residual':>9}")
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    captures = {}
    for scene in scenes:
        captures[scene] = load_scene(scene)
        rows += quality_rows(scene, captures[scene], BENCHMARK_SCENES[scene],
                             {a: _settings(a, args) for a in ALGOS}, args.device)
    stab = []
    if not args.no_stability:
        print(f"\nstability: DE-GAP with tol=0 and PnP-GAP, both to K={args.k} (first measurement of each scene)")
        for scene in scenes:
            stab.append(_stability(scene, captures[scene], BENCHMARK_SCENES[scene][0], args))
    summary = _summary(rows, stab, device_type)
    print(f"(benchmark wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model or _default("de-gap"), "pnp_model": args.pnp_model or _default("pnp-gap"),
                       "ensemble": _given(args.ensemble, "de-gap", "ensemble"),
                       "pnp_ensemble": _given(args.pnp_ensemble, "pnp-gap", "ensemble"),
                       "device": args.device, "threads": torch.get_num_threads(),
                       "load_average_start": load,
                       "rows": rows, "stability": stab, "summary": summary}, fh, indent=2)
    return 0
