"""Batched against one-at-a-time equilibrium solves: seconds per measurement and agreement."""

from __future__ import annotations

import argparse
import time

import numpy as np

from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, execute
from sci_viewer.settings import resolve_device


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", default="de-gap", help="de-gap or de-rnn (default: de-gap)")
    p.add_argument("--demo", default="256,8,4", metavar="SIZE,B,N",
                   help="synthetic capture: frame size, frames per measurement, measurements (default 256,8,4)")
    p.add_argument("--iters", type=int, default=10, help="iterations per measurement (tol 0: a fixed count)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default: cpu)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each mode (the best is shown)")


def _timed(job: Job) -> tuple[float, np.ndarray, list[int]]:
    t0 = time.perf_counter()
    final = execute(job)
    return time.perf_counter() - t0, final.reconstruction, [r.iterations for r in final.results]


def run(args: argparse.Namespace) -> int:
    size, frames, n = (int(v) for v in args.demo.split(","))
    capture = demo_capture(size=size, n_frames=frames, n_meas=n)
    settings = {"tol": 0.0, "max_iter": args.iters}
    device = str(resolve_device(args.device))

    def job(batch: int) -> Job:
        return Job(capture, args.algo, settings, device=device, batch=batch, track_metrics=False,
                   preview_every=10**9)

    execute(Job(capture, args.algo, {**settings, "max_iter": 1}, device=device, measurements=[0]))  # warm-up
    best: dict[int, float] = {}
    outputs: dict[int, np.ndarray] = {}
    for _ in range(max(1, args.repeats)):
        for batch in (1, n):
            seconds, outputs[batch], _ = _timed(job(batch))
            best[batch] = min(best.get(batch, float("inf")), seconds)
    diff = float(np.abs(outputs[1] - outputs[n]).max())
    print(f"{args.algo} on {device}, {n} measurements of {frames}x{size}x{size}, {args.iters} iterations each")
    for batch in (1, n):
        print(f"  batch {batch}: {best[batch]:.2f} s ({best[batch] / n:.2f} s per measurement)")
    print(f"  batched / one at a time: {best[1] / best[n]:.2f}x faster; max |difference| {diff:.2e}")
    return 0
