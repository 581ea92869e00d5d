"""GAP-TV, DE-GAP and DE-RNN on captures simulated from held-out DAVIS scenes: any B, mask, noise.

Each capture (scene x size x B x mask kind x noise level, see ``sci_viewer.benchmarks._held_out``)
is synthesised with sci_viewer.simulation and run through the engine as a user's file would be
(DE-GAP estimates its noise level from the capture). One row per capture: each algorithm's PSNR,
iterations, whether every measurement reached tol, seconds per measurement, and the stall
safeguard's actions; then the means. The full grid (3 scenes x 2 sizes x 4 B x 4 masks x 3 noise
levels = 288 captures) takes many hours on a 2-core CPU (roughly 5-10 h: a 480 px B=20 capture
alone costs minutes per algorithm); --quick runs 6 captures that cover every B, mask kind, noise
level, scene and size.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import time
from typing import Any

import numpy as np
import torch
import yaml

from sci_viewer.algorithms import get_algorithm
from sci_viewer.benchmarks._held_out import HELD_OUT_SCENES, NOISE_LEVELS, SimConfig, make_capture
from sci_viewer.capture import Capture
from sci_viewer.engine import Job, JobFinished, execute
from sci_viewer.noise import estimate_measurement_sigma
from sci_viewer.simulation import MASK_KINDS

ALGOS = ("gap-tv", "de-gap", "de-rnn")
FRAMES = (8, 10, 14, 20)
SIZES = (256, 480)
#: every B, mask kind, noise level and scene once, both sizes (B = 14 grey: the issue's hard case)
QUICK = (
    SimConfig("bmx-trees", 256, 8, "iid", "none"),
    SimConfig("car-shadow", 256, 10, "translating", "moderate"),
    SimConfig("kite-surf", 256, 14, "grey", "strong"),
    SimConfig("bmx-trees", 256, 20, "sparse", "strong"),
    SimConfig("car-shadow", 256, 14, "grey", "moderate"),
    SimConfig("kite-surf", 480, 8, "translating", "moderate"),
)
#: the table's columns per algorithm (reached_tol: None for a fixed iteration count)
COLUMNS = ("psnr", "iterations", "reached_tol", "seconds_per_measurement", "safeguards")


def _csv(kind: type = str):
    return lambda text: [kind(t) for t in text.split(",") if t.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help=f"the {len(QUICK)} representative captures only")
    p.add_argument("--scenes", type=_csv(), default=list(HELD_OUT_SCENES), help="held-out scenes")
    p.add_argument("--frames", type=_csv(int), default=list(FRAMES), help="values of B")
    p.add_argument("--kinds", type=_csv(), default=list(MASK_KINDS), help="mask kinds")
    p.add_argument("--noise", type=_csv(), default=list(NOISE_LEVELS), help="noise levels (none, moderate, strong)")
    p.add_argument("--sizes", type=_csv(int), default=list(SIZES), help="crop sizes (square)")
    p.add_argument("--algos", type=entries, default=list(ALGOS),
                   help="algorithms, each ALGO or ALGO:KEY=VALUE[:KEY=VALUE] with its settings, a column each "
                        "(e.g. gap-tv,de-gap,de-gap:model=degap-default,pnp-gap:sigmas=[25]:iterations=40)")
    p.add_argument("--measurements", type=int, default=1, help="measurements (B-frame blocks) per capture")
    p.add_argument("--max-iter", type=int, help="DE-GAP / DE-RNN iteration cap (default: the algorithm's)")
    p.add_argument("--gap-tv-iterations", type=int, help="GAP-TV iterations (default: the algorithm's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--json", help="write the table (and the machine) here")


def grid(args: argparse.Namespace) -> list[SimConfig]:
    """The captures the options choose (``--quick``: :data:`QUICK`, narrowed by any option given)."""
    if args.quick:
        return [c for c in QUICK if c.scene in args.scenes and c.frames in args.frames and c.kind in args.kinds
                and c.noise in args.noise and c.size in args.sizes]
    return [SimConfig(s, z, b, k, n, args.measurements) for z, b, k, n, s in
            itertools.product(args.sizes, args.frames, args.kinds, args.noise, args.scenes)]


def split_entry(entry: str) -> tuple[str, dict[str, Any]]:
    """An ``--algos`` entry ``ALGO`` or ``ALGO:KEY=VALUE[:KEY=VALUE...]`` (values read as YAML, e.g.
    ``de-gap:model=degap-noise`` or ``pnp-gap:sigmas=[25]:iterations=40``): the algorithm and its settings."""
    algo, *items = entry.split(":")
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--algos entry {entry!r}: expected ALGO:KEY=VALUE, got {item!r}")
        settings[key] = yaml.safe_load(raw)
    return algo, settings


def entries(text: str) -> list[str]:
    """``--algos``: entries separated by commas outside brackets (``pnp-gap:sigmas=[50,25],gap-tv``)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    found = [e.strip() for e in out if e.strip()]
    for entry in found:  # a malformed entry is refused with the options, before any capture is made
        try:
            split_entry(entry)
        except SystemExit as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return found


def algo_settings(entry: str, args: argparse.Namespace) -> dict[str, Any]:
    algo, settings = split_entry(entry)
    if algo == "gap-tv":
        return settings if args.gap_tv_iterations is None else {**settings, "iterations": args.gap_tv_iterations}
    if get_algorithm(algo).iteration_field != "max_iter":  # a fixed iteration count (PnP-GAP): its own
        return settings
    return settings if args.max_iter is None else {**settings, "max_iter": args.max_iter}


def summarise(entry: str, fin: JobFinished) -> dict[str, Any]:
    """One algorithm's cells of a row."""
    res = fin.results
    fixed_point = get_algorithm(split_entry(entry)[0]).iteration_field == "max_iter"
    return {
        "psnr": fin.report()["mean_psnr"],
        "iterations": float(np.mean([r.iterations for r in res])),
        "reached_tol": bool(all(r.converged for r in res)) if fixed_point else None,
        "seconds_per_measurement": float(np.mean([r.seconds for r in res])),
        "safeguards": [[a["action"] for a in r.safeguards] for r in res],
    }


def noise_estimate(capture: Capture) -> float:
    """The measurement noise (0-255 frame scale) that DE-GAP estimates from the first measurement."""
    return 255.0 * estimate_measurement_sigma(capture.measurements([0])[0], capture.mask_float())


def run_capture(config: SimConfig, capture: Capture, algos: list[str], args: argparse.Namespace) -> dict[str, Any]:
    row: dict[str, Any] = {"capture": config.label, "scene": config.scene, "size": config.size,
                           "frames": config.frames, "kind": config.kind, "noise": config.noise,
                           "noise_estimate": noise_estimate(capture), "results": {}}
    for entry in algos:
        fin = execute(Job(capture, split_entry(entry)[0], algo_settings(entry, args), device=args.device,
                          preview_every=10**9, ssim_every=10**9))
        row["results"][entry] = summarise(entry, fin)
    return row


def _cell(cells: dict[str, Any] | None) -> str:
    if cells is None:
        return f"{'':>27}"
    tol = "-" if cells["reached_tol"] is None else ("yes" if cells["reached_tol"] else "NO")
    sg = sum(len(s) for s in cells["safeguards"])
    return f"{cells['psnr']:6.2f} {cells['iterations']:5.1f} {tol:>3} {cells['seconds_per_measurement']:6.2f} {sg:>2}"


def print_header(algos: list[str]) -> None:
    print(f"{'capture':44} {'sig_y':>5} " + " | ".join(f"{a + ': PSNR   it tol  s/m sg':27}" for a in algos), flush=True)


def print_row(row: dict[str, Any], algos: list[str]) -> None:
    print(f"{row['capture']:44} {row['noise_estimate']:5.2f} " + " | ".join(_cell(row["results"].get(a)) for a in algos), flush=True)


def means(rows: list[dict[str, Any]], algos: list[str]) -> dict[str, Any]:
    """Per algorithm: mean PSNR, iterations, seconds; captures reaching tol; mean gain over GAP-TV."""
    out: dict[str, Any] = {}
    for a in algos:
        cells = [r["results"][a] for r in rows]
        tols = [c["reached_tol"] for c in cells if c["reached_tol"] is not None]
        out[a] = {"psnr": float(np.mean([c["psnr"] for c in cells])),
                  "iterations": float(np.mean([c["iterations"] for c in cells])),
                  "reached_tol": f"{sum(tols)}/{len(tols)}" if tols else None,
                  "seconds_per_measurement": float(np.mean([c["seconds_per_measurement"] for c in cells])),
                  "safeguards": sum(sum(len(s) for s in c["safeguards"]) for c in cells)}
        if "gap-tv" in algos and a != "gap-tv":
            gains = [r["results"][a]["psnr"] - r["results"]["gap-tv"]["psnr"] for r in rows]
            out[a].update(gain_mean=float(np.mean(gains)), gain_min=float(np.min(gains)))
    return out


def machine() -> dict[str, Any]:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {"date": datetime.date.today().isoformat(), "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "load_average_start": load}


def run(args: argparse.Namespace) -> int:
    configs, algos = grid(args), list(args.algos)
    info = machine()
    print(f"{len(configs)} captures, {', '.join(algos)}; {info['date']}, torch {info['torch']}, {info['threads']} "
          f"threads, load average {info['load_average_start']}, device {args.device}")
    t0 = time.perf_counter()
    for entry in algos:  # model load and first-call costs, not timed
        warm = make_capture(SimConfig(configs[0].scene, 32, 8, "iid", "none")) if configs else None
        algo = split_entry(entry)[0]
        if warm is not None:
            execute(Job(warm, algo, {**algo_settings(entry, args), get_algorithm(algo).iteration_field: 2},
                        device=args.device))
    print_header(algos)
    rows = []
    for config in configs:
        rows.append(run_capture(config, make_capture(config), algos, args))
        print_row(rows[-1], algos)
    summary = means(rows, algos) if rows else {}
    if rows:
        print(f"{'mean':44} {'':5} " + " | ".join(
            f"{s['psnr']:6.2f} {s['iterations']:5.1f} {s['reached_tol'] or '-':>5} {s['seconds_per_measurement']:6.2f}"
            for s in summary.values()))
        for a, s in summary.items():
            if "gain_mean" in s:
                print(f"{a} - gap-tv: mean {s['gain_mean']:+.2f} dB, worst capture {s['gain_min']:+.2f} dB; "
                      f"safeguard actions {s['safeguards']}")
    print(f"(benchmark wall time {time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "algos": algos, "rows": rows, "means": summary}, fh, indent=2)
    return 0
