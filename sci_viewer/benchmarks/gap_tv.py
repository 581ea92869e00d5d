"""GAP-TV: seconds per 256x256x8 measurement and PSNR on the shared benchmark scenes."""

from __future__ import annotations

import argparse
import json
import os

import torch

from sci_viewer.benchmarks._scenes import BENCHMARK_SCENES, load_scene
from sci_viewer.engine import Job, execute


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", action="append", help="cpu / cuda (repeatable; default cpu and cuda if present)")
    p.add_argument("--repeat", type=int, default=2, help="timed repeats per scene (the best is kept)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", help="save the figures here")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} cores, "
          f"load average {load:.2f} (timings are only comparable on a quiet machine)")
    print(f"{'scene':10} {'device':6} {'PSNR':>7} {'SSIM':>7} {'s/meas':>8}")
    rows = []
    for device in devices:
        for name, indices in BENCHMARK_SCENES.items():
            capture = load_scene(name)
            # Warm-up on one measurement (allocator, lazy init), then the best of the repeats.
            execute(Job(capture, "gap-tv", device=device, measurements=indices[:1], track_metrics=False))
            best = None
            for _ in range(max(1, args.repeat)):
                final = execute(Job(capture, "gap-tv", device=device, measurements=indices,
                                    track_metrics=False, preview_every=10**9))
                secs = sum(r.seconds for r in final.results) / len(final.results)
                best = (final, secs) if best is None or secs < best[1] else best
            final, secs = best
            report = final.report()
            rows.append({"scene": name, "device": device, "psnr": report["mean_psnr"],
                         "ssim": report["mean_ssim"], "seconds_per_measurement": secs})
            print(f"{name:10} {device:6} {report['mean_psnr']:7.2f} {report['mean_ssim']:7.4f} {secs:8.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0
