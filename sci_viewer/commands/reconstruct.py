"""``sci-viewer reconstruct``: run one job through the engine, with a progress bar."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from sci_viewer.algorithms import algorithm_names, get_algorithm
from sci_viewer.capture import Scale
from sci_viewer.commands.common import (add_capture_arguments, add_correction_arguments, load_from_args,
                                       parse_indices)
from sci_viewer.correction import ARRAY_DARK
from sci_viewer.engine import IterationEvent, Job, MeasurementResult, NoticeEvent, run_job
from sci_viewer.errors import JobError
from sci_viewer.export import check_export_target
from sci_viewer.settings import resolve_device

# CLI flag -> settings field it sets (when the algorithm's settings have that field).
_FLAG_FIELDS = {"iters": ("iterations", "max_iter"), "tol": ("tol",), "max_iter": ("max_iter",), "model": ("model",)}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("reconstruct", help="reconstruct a capture and report/export the result")
    add_capture_arguments(p)
    add_correction_arguments(p)
    add_algorithm_arguments(p)
    p.add_argument("--config", help="YAML run configuration (as saved beside exports): its algorithm, settings, "
                                    "measurements, device, scale and, without a capture argument, its capture; "
                                    "flags override it")
    p.add_argument("--out", help="export the reconstruction: .mp4 .gif .tif .png .npz .mat")
    p.add_argument("--fps", type=float, default=10.0, help="frame rate of video exports")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--report", help="write a JSON report here")
    p.add_argument("--metrics", help="write per-iteration metrics (CSV) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def add_algorithm_arguments(p: argparse.ArgumentParser) -> None:
    """--algo, --measurements, the settings flags (--iters, --tol, --max-iter, --model, --set) and
    --device (reconstruct, batch); :func:`settings_from_args` reads the settings ones."""
    p.add_argument("--algo", help=f"algorithm: {', '.join(algorithm_names())} (default: gap-tv)")
    p.add_argument("--measurements", help="which measurements, e.g. 0,2 or 0-3 (default: all)")
    p.add_argument("--iters", type=int, help="iterations (GAP-TV, PnP-GAP) or max iterations (DE-GAP, DE-RNN)")
    p.add_argument("--tol", type=float, help="fixed-point tolerance (DE-GAP, DE-RNN)")
    p.add_argument("--max-iter", type=int, help="iteration cap (DE-GAP, DE-RNN)")
    p.add_argument("--model", help="trained model name or .pt file (DE-GAP, PnP-GAP: a denoiser; DE-RNN: a recurrent model); "
                        "DE-GAP's default 'auto' takes degap-noise for a noisy measurement, else degap-default")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other algorithm setting (repeatable), e.g. --set tv_weight=0.2")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: auto)")


def settings_from_args(args: argparse.Namespace, algo: str, base: dict[str, Any]) -> dict[str, Any]:
    """The algorithm settings the flags give, over ``base`` (e.g. a run configuration's)."""
    spec = get_algorithm(algo)
    fields = {f.name: f for f in dataclasses.fields(spec.settings_type)}
    settings = dict(base)
    for flag, targets in _FLAG_FIELDS.items():
        value = getattr(args, flag, None)
        if value is None:
            continue
        target = next((t for t in targets if t in fields), None)
        if target is None:
            raise JobError(f"--{flag.replace('_', '-')} does not apply to {spec.label}; "
                           f"its settings are {', '.join(fields)}.")
        settings[target] = value
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise JobError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(fields)}.")
        settings[key] = yaml.safe_load(raw)
    return settings


def _find(name: str, beside: Path) -> str | None:
    """``name`` as given (absolute, or from the current folder), else beside the configuration."""
    for candidate in (Path(name), beside / name, beside / Path(name).name):
        if candidate.is_file():
            return str(candidate)
    return None


def apply_config(args: argparse.Namespace) -> dict[str, Any]:
    """Fill what the flags left open from ``--config``; returns the configuration's settings."""
    path = Path(args.config)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise JobError(f"Cannot read the run configuration '{path}': {exc.strerror or exc}.") from None
    except yaml.YAMLError as exc:
        raise JobError(f"The run configuration '{path}' is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise JobError(f"The run configuration '{path}' must be a mapping (algo, settings, ...), "
                       f"not a {type(config).__name__}.")
    if "algo" not in config and isinstance(config.get("runs"), list):
        raise JobError(f"'{path}' describes {len(config['runs'])} runs (a side-by-side export); "
                       "use the configuration saved beside a single run's export.")
    settings = config.get("settings") or {}
    if not isinstance(settings, dict):
        raise JobError(f"'settings' in '{path}' must be a mapping of setting names to values.")
    if args.algo and config.get("algo") and args.algo != config["algo"]:
        print(f"note: --algo {args.algo} replaces the configuration's {config['algo']}, "
              "so its settings are not used", file=sys.stderr)
        settings = {}
    args.algo = args.algo or config.get("algo")
    args.device = args.device or config.get("device")
    if args.measurements is None and config.get("measurements") is not None:
        args.measurements = ",".join(str(i) for i in config["measurements"])
    capture = config.get("capture") or {}
    source, mask = capture.get("source"), capture.get("mask")
    if not args.capture and source and source != "built-in demo":
        args.capture = _find(source, path.parent)
        if args.capture is None:
            raise JobError(f"'{path}' was saved for the capture '{source}', which is not in the current folder "
                           "or beside the configuration; give the capture file as the first argument.")
        if args.mask is None and mask and mask != source:
            args.mask = _find(mask, path.parent)
            if args.mask is None:
                raise JobError(f"'{path}' was saved with the mask '{mask}', which is not in the current "
                               "folder or beside the configuration; give it with --mask.")
    if args.scale is None and capture.get("scale"):
        valid = [s.value for s in Scale]
        if capture["scale"] not in valid:
            raise JobError(f"'{path}' gives the scale {capture['scale']!r}; valid: {', '.join(valid)}.")
        args.scale = capture["scale"]
    _correction_from_config(args, capture, path)
    return settings


def _correction_from_config(args: argparse.Namespace, capture: dict[str, Any], path: Path) -> None:
    """The configuration's dark frame (a file, found like the capture, or a constant) and saturation
    level, where ``--dark`` / ``--saturation`` leave them open."""
    dark = capture.get("dark")
    if args.dark is None and dark is not None:
        if isinstance(dark, bool) or not isinstance(dark, (int, float, str)):
            raise JobError(f"'{path}' gives the dark frame {dark!r}; expected a file name or a number.")
        if isinstance(dark, str):
            if dark == ARRAY_DARK:
                raise JobError(f"'{path}' was saved with a dark frame given as an array from Python, which it "
                               "cannot replay; give the dark frame with --dark FILE|VALUE.")
            found = _find(dark, path.parent)
            if found is None:
                raise JobError(f"'{path}' was saved with the dark frame '{dark}', which is not in the current "
                               "folder or beside the configuration; give it with --dark.")
            dark = found
        args.dark = str(dark)
    level = capture.get("saturation")
    if args.saturation is None and level is not None:
        if isinstance(level, bool) or not isinstance(level, (int, float)):
            raise JobError(f"'{path}' gives the saturation level {level!r}; it must be a number.")
        args.saturation = float(level)


def run(args: argparse.Namespace) -> int:
    base = apply_config(args) if args.config else {}
    args.algo, args.device = args.algo or "gap-tv", args.device or "auto"
    resolve_device(args.device)  # an unknown or missing device is named before any work
    if args.out:
        check_export_target(args.out, args.fps, args.overwrite)  # refused before the run, not after
    capture = load_from_args(args)
    capture.require_mask()
    job = Job(capture, args.algo, settings_from_args(args, args.algo, base), device=args.device,
              measurements=parse_indices(args.measurements), preview_every=10**9)
    indices = capture.check_indices(job.measurements)
    bar = None if args.quiet else tqdm(total=len(indices), unit="meas", file=sys.stderr, dynamic_ncols=True)
    final = None
    for event in run_job(job):
        if isinstance(event, IterationEvent) and bar is not None:
            bar.set_postfix_str(f"meas {event.measurement} k={event.k} res={event.residual:.2e}"
                                + (f" psnr={event.psnr:.2f}" if event.psnr is not None else ""))
        elif isinstance(event, MeasurementResult):
            if bar is not None:
                bar.update(1)
            if event.message:
                tqdm.write(f"measurement {event.index}: {event.message}", file=sys.stderr)
        elif isinstance(event, NoticeEvent):
            tqdm.write(event.message, file=sys.stderr)
        else:
            final = event
    if bar is not None:
        bar.close()
    assert final is not None
    report = final.report()
    for m in report["measurements"]:
        psnr = "n/a" if m["psnr"] is None else f"{m['psnr']:.2f} dB"
        ssim = "n/a" if m["ssim"] is None else f"{m['ssim']:.4f}"
        print(f"measurement {m['index']}: PSNR {psnr}  SSIM {ssim}  {m['iterations']} it  "
              f"{m['seconds']:.2f} s  residual {m['final_residual']:.2e}")
    if report["mean_psnr"] is not None:
        print(f"mean PSNR {report['mean_psnr']:.2f} dB  mean SSIM {report['mean_ssim']:.4f}  ({final.algo}, {final.device})")
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
    if args.metrics:
        from sci_viewer.export import write_metrics_csv

        write_metrics_csv(args.metrics, final.trace)
    if args.out:
        from sci_viewer.export import export_video, save_config_yaml

        path = export_video(args.out, final.reconstruction, fps=args.fps, metadata={"config": final.config},
                            overwrite=args.overwrite)
        save_config_yaml(Path(str(path) + ".yaml"), final.config)
        print(f"wrote {path}")
    return 0
