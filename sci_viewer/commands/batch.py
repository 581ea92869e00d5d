"""``sci-viewer batch INPUT... --out-dir DIR``: reconstruct many captures (see :mod:`sci_viewer.batch`).

Under ``torchrun`` each rank takes its share of the captures (its own GPU where a machine has
several) and rank 0 writes the merged summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from tqdm import tqdm

from sci_viewer.algorithms import get_algorithm
from sci_viewer.batch import FAILED, OK, SKIPPED, CaptureRecord, discover, output_names, read_previous, run_batch, \
    write_summary
from sci_viewer.capture import Capture
from sci_viewer.commands.common import add_correction_arguments, add_loader_arguments, load_from_args, parse_indices
from sci_viewer.commands.reconstruct import add_algorithm_arguments, settings_from_args
from sci_viewer.engine import Event, IterationEvent, Job
from sci_viewer.export import check_export_target
from sci_viewer.ranks import Merge, device_for, world_from_env
from sci_viewer.settings import resolve_device

FORMATS = ("mp4", "gif", "tif", "png", "npz", "mat")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("batch", help="reconstruct many captures into a folder with a summary (resumable; "
                                     "shares the captures among torchrun ranks)")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="capture files, folders (their capture files) or quoted glob patterns ('data/**/*.mat')")
    p.add_argument("--out-dir", required=True, help="folder for the outputs, their run configurations and "
                                                    "summary.json / summary.csv (created if missing)")
    p.add_argument("--format", default="npz", choices=FORMATS, help="output format (default: npz)")
    add_loader_arguments(p)
    add_correction_arguments(p)
    add_algorithm_arguments(p)
    p.add_argument("--fps", type=float, default=10.0, help="frame rate of video outputs")
    p.add_argument("--overwrite", action="store_true",
                   help="reconstruct every capture again (default: skip those whose outputs are complete)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (a scheduler's time limit, torchrun stopping the others) as Ctrl-C


def run(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _stop)  # the capture being written is dropped whole, as on Ctrl-C
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    world = world_from_env()
    args.algo = args.algo or "gap-tv"
    args.device = device_for(world, args.device or "auto")
    resolve_device(args.device)  # an unknown or missing device is named before any work
    settings = settings_from_args(args, args.algo, {})
    get_algorithm(args.algo).settings(**settings)  # a bad value is refused once, not once per capture
    indices = parse_indices(args.measurements)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_export_target(out_dir / f"check.{args.format}", args.fps)
    captures = discover(args.inputs, exclude=[args.mask] if args.mask else [])

    def load(path: Path) -> Capture:
        return load_from_args(argparse.Namespace(**{**vars(args), "capture": str(path)}))

    def make_job(capture: Capture) -> Job:
        # measurements solved together where it pays (sci_viewer.batching: on a GPU)
        return Job(capture, args.algo, settings, device=args.device, measurements=indices, preview_every=10**9)

    share = len(captures[world.rank::world.world_size])
    bar = tqdm(total=share, unit="capture", file=sys.stderr, dynamic_ncols=True, disable=args.quiet,
               desc=f"rank {world.rank}" if world.world_size > 1 else None, position=world.rank)

    def on_event(event: Event) -> None:
        if isinstance(event, IterationEvent):
            bar.set_postfix_str(f"meas {event.measurement} k={event.k} res={event.residual:.2e}", refresh=False)

    records: list[CaptureRecord] = []
    with Merge(world) as merge:
        try:
            for record in run_batch(captures, output_names(captures), out_dir, args.format, load, make_job,
                                    rank=world.rank, world=world.world_size, overwrite=args.overwrite, fps=args.fps,
                                    previous=read_previous(out_dir), on_event=on_event):
                records.append(record)
                bar.update(1)
                psnr = "" if record.mean_psnr is None else f", mean PSNR {record.mean_psnr:.2f} dB"
                tqdm.write(f"{record.capture}: {record.status}{psnr}" + (f": {record.error}" if record.error else ""),
                           file=sys.stderr)
        except KeyboardInterrupt:
            if world.world_size == 1:  # what was done is summarised; a re-run resumes after it
                write_summary(out_dir, args.algo, world.world_size, records, captures)
            raise
        finally:
            bar.close()
        parts = merge.gather([dataclasses.asdict(r) for r in records])
    if parts is None:  # not rank 0: rank 0 writes the summary
        return 1 if any(r.status == FAILED for r in records) else 0
    merged = [CaptureRecord(**r) for part in parts for r in part]
    json_path, csv_path = write_summary(out_dir, args.algo, world.world_size, merged, captures)
    count = {status: sum(r.status == status for r in merged) for status in (OK, SKIPPED, FAILED)}
    print(f"{count[OK]} reconstructed, {count[SKIPPED]} skipped (complete), {count[FAILED]} failed; "
          f"summary: {json_path} and {csv_path.name}")
    return 1 if count[FAILED] else 0
