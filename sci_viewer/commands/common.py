"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from sci_viewer.capture import Capture, Scale
from sci_viewer.errors import CaptureError


def add_capture_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capture", nargs="?", help="capture file; omitted: the built-in demo capture")
    add_loader_arguments(p)


def add_loader_arguments(p: argparse.ArgumentParser) -> None:
    """How a capture file is read: --mask, --scale, --meas-var, --mask-var, --truth-var."""
    p.add_argument("--mask", help="mask file, when the capture file has none")
    p.add_argument("--scale", choices=[s.value for s in Scale],
                   help="how raw values map to [0,1] frames (default: detected; see README)")
    p.add_argument("--meas-var", help="name of the measurement variable in the file")
    p.add_argument("--mask-var", help="name of the mask variable")
    p.add_argument("--truth-var", help="name of the ground-truth variable")


def add_correction_arguments(p: argparse.ArgumentParser) -> None:
    """``--dark FILE|VALUE``, ``--dark-var NAME`` and ``--saturation LEVEL`` (reconstruct, info, batch);
    :func:`correct_from_args` applies them."""
    p.add_argument("--dark", metavar="FILE|VALUE",
                   help="subtract a dark frame before reconstructing: a file (H x W, or a stack averaged to "
                        "H x W; any capture format) or a constant offset, in raw measurement units")
    p.add_argument("--dark-var", help="name of the dark-frame variable in the --dark file")
    p.add_argument("--saturation", type=float, metavar="LEVEL",
                   help="raw level (before dark subtraction) at or above which a pixel is saturated: "
                        "such pixels are counted and left out of the data term")


def correct_from_args(capture: Capture, args: argparse.Namespace) -> Capture:
    """``capture`` with ``--dark`` / ``--saturation`` applied (unchanged when neither is given)."""
    dark, saturation = getattr(args, "dark", None), getattr(args, "saturation", None)
    if dark is None and saturation is None:
        return capture
    from sci_viewer.io import apply_correction

    return apply_correction(capture, dark, saturation, getattr(args, "dark_var", None))


def load_from_args(args: argparse.Namespace) -> Capture:
    if not args.capture:
        from sci_viewer.demo import demo_capture

        capture = demo_capture()
        if args.mask:
            raise CaptureError("--mask needs a capture file; the demo capture has its own mask.")
    else:
        from sci_viewer.io import load_capture

        capture = load_capture(args.capture, mask_path=args.mask, meas_var=args.meas_var,
                               mask_var=args.mask_var, truth_var=args.truth_var)
    if args.scale:
        capture = capture.with_scale(args.scale)
    return correct_from_args(capture, args)


def parse_indices(text: str | None) -> list[int] | None:
    """``"0,2,4-6"`` → [0, 2, 4, 5, 6]; None → None (all)."""
    if not text:
        return None
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-", 1)
                if int(b) < int(a):
                    raise CaptureError(f"--measurements: the range '{part}' runs backwards; write {b}-{a}.")
                out.extend(range(int(a), int(b) + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise CaptureError(f"--measurements '{text}' is not a list like 0,2,4-6.") from None
    return out
