"""``sci-viewer info FILE``: what a capture file holds."""

from __future__ import annotations

import argparse
import json
import sys

from sci_viewer.commands.common import add_correction_arguments, correct_from_args
from sci_viewer.errors import CaptureError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="describe a capture file (shapes, B, ranges, ground truth)")
    p.add_argument("file", help="capture file (.mat v5/v7.3, .npz, .h5, .tif)")
    p.add_argument("--mask", help="mask in a separate file")
    p.add_argument("--meas-var", help="name of the measurement variable in the file")
    p.add_argument("--mask-var", help="name of the mask variable")
    p.add_argument("--truth-var", help="name of the ground-truth variable")
    add_correction_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def _print_text(d: dict) -> None:
    print(f"{d['name']}  ({d['source']})")
    print(f"  measurements   {d['measurements']} x {d['frame_size'][0]} x {d['frame_size'][1]}"
          f"  {d['meas_dtype']}  range {d['meas_range'][0]:g}..{d['meas_range'][1]:g}")
    if d["dark"] is not None:
        lo, hi = d["corrected_range"]
        print(f"  dark           {d['dark']}  (subtracted: range {lo:g}..{hi:g})")
    neg = d["negative_pixels"]
    print(f"  negative       {neg} pixel(s)" + (f", min {d['negative_min']:g}" if neg else ""))
    if d["saturation"] is not None:
        print(f"  saturation     level {d['saturation']:g}: {d['saturated_pixels']} pixel(s) saturated, "
              "left out of the data term")
    m = d["mask"]
    if m is None:
        print("  mask           none — a reconstruction needs one (--mask FILE)")
    else:
        print(f"  mask           B = {m['shape'][0]}  {m['dtype']}  range {m['range'][0]:g}..{m['range'][1]:g}"
              f"  {'binary' if m['binary'] else 'grey-level'}  mean {m['mean']:.3f}"
              f"  zero-exposure pixels {m['zero_exposure_pixels']}")
    print(f"  ground truth   {'yes ' + str(d.get('truth_shape')) if d['ground_truth'] else 'no'}")
    print(f"  scale          {d['scale']}: {d['scale_meaning']}")
    for note in d["notes"]:
        print(f"  note           {note}")


def run(args: argparse.Namespace) -> int:
    from sci_viewer.io import inspect_file, load_capture

    try:
        capture = load_capture(args.file, mask_path=args.mask, meas_var=args.meas_var, mask_var=args.mask_var,
                               truth_var=args.truth_var)
    except CaptureError as exc:
        # Still show what the file holds (on stdout), so the operator can pick variable names.
        try:
            holds = inspect_file(args.file)
        except CaptureError:
            holds = None
        print(f"error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": str(exc), "file": holds}, indent=2, default=str))
        elif holds is not None:
            print(json.dumps(holds, indent=2, default=str))
        return 2
    try:
        capture = correct_from_args(capture, args)
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    d = capture.describe()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        _print_text(d)
    return 0
