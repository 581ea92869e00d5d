"""Public loaders: a file (and optionally a separate mask file) -> :class:`~sci_viewer.capture.Capture`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sci_viewer.capture import SCALE_HELP, Capture, Scale, _check_values
from sci_viewer.errors import CaptureError
from sci_viewer.io.formats import EXTENSIONS, Reader, VarInfo, check_size, open_reader, shape_text
from sci_viewer.io.layout import (FIRST, LAST, LAYOUT_TEXT, Role, arrange, best_single,
                                  parse_layout, squeeze_extra, trim_frames)
from sci_viewer.io.variables import ALIASES, find

PathLike = str | os.PathLike

#: Arrays up to this size get their value range computed by :func:`inspect_file`.
INSPECT_RANGE_BYTES = 512 * 1024**2
_CR_IN_NAME = re.compile(r"(?:^|[^a-z])cr[_-]?(\d{1,3})(?:[^0-9]|$)", re.IGNORECASE)


def _default_layout(reader: Reader) -> str:
    return LAST if reader.matlab_order else FIRST


def _format_notes(reader: Reader) -> list[str]:
    suffix = reader.path.suffix.lower()
    if suffix and suffix not in EXTENSIONS[reader.fmt]:
        return [f"{reader.path.name}: the extension says '{suffix}' but the content is a "
                f"{reader.format_name}; read it as such."]
    return []


def _cr_hint(path: Path) -> tuple[int, str] | None:
    """B from a file name such as ``meas_waterBalloon_cr_10.mat`` (the toolboxes' convention)."""
    match = _CR_IN_NAME.search(path.stem)
    if match and int(match.group(1)) >= 2:
        return int(match.group(1)), f"from the file name '{path.name}'"
    return None


def frames_from_name(path: PathLike) -> int | None:
    """B as a file name states it (``meas_waterBalloon_cr_10.mat`` -> 10), else None.

    For a capture that arrived without a mask: ``load_mask(mask_file, frames_hint=capture.source)``
    uses it the way ``load_capture`` does (see there).
    """
    hint = _cr_hint(Path(path))
    return None if hint is None else hint[0]


def _check_role_values(file: str, role: str, var: str, arr: np.ndarray) -> None:
    _check_values(file, f"{role} variable '{var}'", arr, negative_ok=role == "measurement")
    if role == "mask" and not np.any(arr):
        raise CaptureError(f"{file}: the mask variable '{var}' is all zeros; no pixel was ever exposed.")


def _parse_scale(scale: Scale | str | None) -> Scale | None:
    if scale is None or (isinstance(scale, str) and scale.lower() in ("", "auto")):
        return None
    try:
        return Scale(scale.lower() if isinstance(scale, str) else scale)
    except ValueError:
        raise CaptureError(
            f"Unknown scale '{scale}'; use auto or one of: "
            + "; ".join(f"{s.value} ({SCALE_HELP[s]})" for s in Scale)
        ) from None


def auto_scale(meas: np.ndarray, mask: np.ndarray | None, truth: np.ndarray | None) -> tuple[Scale, str]:
    """The scale ``load_capture(scale=None)`` picks, and why. The rule, first match wins:

    1. ground truth present -> ``sim255`` (the simulated benchmark convention), or ``unit`` when that
       truth is itself on [0, 1] (then the measurement is a sum of [0, 1] frames too);
    2. uint8 measurement -> ``real_cr`` (a real 8-bit sensor: a simulated sum of B frames on the
       0-255 scale would overflow uint8);
    3. maximum above 255 -> ``sim255`` (a sum of 0..255 frames, as the benchmark files hold);
    4. floating point with maximum <= B (mask frames) -> ``unit`` (a sum of B frames already in [0, 1]);
    5. otherwise -> ``real_cr``.
    """
    if truth is not None:
        if truth.size and float(np.max(truth)) <= 1.0:
            return Scale.UNIT, "ground truth on [0, 1]: its measurement is a sum of [0, 1] frames"
        return Scale.SIM255, "ground truth present: simulation convention"
    if meas.dtype == np.uint8:
        return Scale.REAL_CR, "uint8 measurement without ground truth: real-data convention"
    peak = float(np.max(meas))
    if peak > 255:
        return Scale.SIM255, f"measurement peaks at {peak:g} > 255: a sum of 0-255 frames"
    b = None if mask is None else int(mask.shape[0])
    if meas.dtype.kind == "f" and b is not None and peak <= b:
        return Scale.UNIT, f"float measurement peaking at {peak:g} <= B = {b}: frames already on [0, 1]"
    return Scale.REAL_CR, "no ground truth, measurement within 0-255: real-data convention"


def _read_role(reader: Reader, role: str, var: str) -> Role:
    return Role(role, var, reader.path.name, reader.read(var))


def load_capture(path: PathLike, *, mask_path: PathLike | None = None, meas_var: str | None = None,
                 mask_var: str | None = None, truth_var: str | None = None,
                 scale: Scale | str | None = None, layout: str = "auto",
                 n_frames: int | None = None) -> Capture:
    """Load a capture from a MATLAB v5/v7.3 ``.mat``, ``.npz``, ``.h5``, ``.npy`` or TIFF file.

    The format is recognised from the file's content, not its extension.

    Parameters
    ----------
    path : the capture file. TIFF and ``.npy`` hold one array, the measurement(s).
    mask_path : a separate mask file (its mask replaces any mask inside ``path``).
    meas_var, mask_var, truth_var : variable names; by default the first present of the common
        names (``meas``/``measurement``/``y``..., ``mask``/``phi``/``mask_3d``...,
        ``orig``/``truth``/``gt``/``X``...), matched case-insensitively. ``mask_var`` names the
        variable in ``mask_path`` when one is given. ``truth_var=""`` ignores any ground truth.
    scale : a :class:`~sci_viewer.capture.Scale` or None for automatic (see :func:`auto_scale`):
        ``sim255`` with ground truth or measurements above 255, ``real_cr`` for uint8 (and other
        0-255) data without ground truth, ``unit`` for float data already on the [0, 1] scale.
    layout : ``"auto"``, ``"hwb"`` (H x W x B, MATLAB) or ``"bhw"`` (B x H x W); auto picks the
        axis order under which measurement, mask and ground truth agree on H x W.
    n_frames : use only the first B frames of a mask holding more (default: all, or B from a
        ``cr_10``-style file name when the mask comes from another file).

    Arrays keep their dtype; no data is copied beyond what reading the file takes.
    Raises :class:`~sci_viewer.errors.CaptureError` naming the file, variable and shapes.
    """
    path = Path(path)
    forced = parse_layout(layout)
    chosen_scale = _parse_scale(scale)
    notes: list[str] = []
    with open_reader(path) as rd:
        notes += _format_notes(rd)
        mvar = find(rd, "meas", meas_var, required=True)
        assert mvar is not None
        tvar = None if truth_var == "" else find(rd, "truth", truth_var, required=False, exclude={mvar})
        kvar = None
        if mask_path is None:
            kvar = find(rd, "mask", mask_var, required=False, exclude={mvar, tvar or ""})
        elif (inner := find(rd, "mask", None, required=False, exclude={mvar, tvar or ""})) is not None:
            notes.append(f"The mask '{inner}' inside {path.name} is ignored: the mask comes from "
                         f"{Path(mask_path).name}.")
        names = [v for v in (mvar, kvar, tvar) if v]
        check_size(path, [rd.variables()[v] for v in names])
        meas = _read_role(rd, "measurement", mvar)
        mask = _read_role(rd, "mask", kvar) if kvar else None
        truth = _read_role(rd, "ground truth", tvar) if tvar else None
        default = _default_layout(rd)
        fmt_name = rd.format_name
    hint = None
    mask_file = None
    if mask_path is not None:
        mask_file = Path(mask_path)
        mask = _read_mask_role(mask_file, mask_var, notes)
        hint = _cr_hint(path)
    arranged = arrange(meas, mask, truth, layout=forced, default=default, n_frames=n_frames,
                       n_frames_hint=hint)
    notes += arranged.notes
    for src, arr in ((meas, arranged.meas), (mask, arranged.mask), (truth, arranged.truth)):
        if src is not None and arr is not None:
            _check_role_values(src.file, src.role, src.var, arr)
    if arranged.mask is not None:
        arranged.mask = binary_from_0_255(arranged.mask, mask.var, notes)
    used = f"measurement '{mvar}'" + (f", mask '{mask.var}'" if mask else "") + (
        f", ground truth '{tvar}'" if tvar else "")
    lay = "one 2-D measurement" if arranged.layout == "2d" else LAYOUT_TEXT[arranged.layout]
    notes.insert(0, f"{fmt_name}; {used}; layout {lay}.")
    if arranged.mask is None:
        cr = _cr_hint(path)
        b_text = f" (B = {cr[0]} {cr[1]})" if cr else ""
        notes.append(f"No mask in {path.name}{b_text}: reconstructing needs the calibrated mask "
                     "(B x H x W); load it as a separate mask file.")
    else:
        dark = int(np.count_nonzero(~np.any(arranged.mask, axis=0)))
        if dark:
            notes.append(f"{dark} pixel(s) are never exposed by the mask (sum over frames = 0); "
                         "the measurement holds no information there.")
    if chosen_scale is None:
        chosen_scale, why = auto_scale(arranged.meas, arranged.mask, arranged.truth)
        notes.append(f"Scale '{chosen_scale.value}' chosen automatically ({why}).")
    return Capture(arranged.meas, arranged.mask, arranged.truth, name=path.stem, source=str(path),
                   mask_source=(str(mask_file) if mask_file else str(path) if mask else None),
                   scale=chosen_scale, notes=tuple(notes))


def binary_from_0_255(mask: np.ndarray, var: str, notes: list[str]) -> np.ndarray:
    """A mask whose only values are 0 and 255 is a binary mask saved as an 8-bit image: 0/1 (with a
    note). Used as it is, it would make every estimate 255 times too small."""
    if mask.size and float(np.max(mask)) == 255.0 and np.all((mask == 0) | (mask == 255)):
        notes.append(f"Mask '{var}' holds only 0 and 255: read as a binary 0/1 mask.")
        return (mask == 255).astype(np.uint8)
    return mask


def _mask_var(reader: Reader, var: str | None) -> str:
    """The mask variable of a mask file: named, an alias, or the file's only array."""
    name = find(reader, "mask", var, required=False)
    if name is not None:
        return name
    candidates = [v for v in reader.variables().values() if v.numeric and len(v.shape) >= 2]
    if len(candidates) == 1:
        return candidates[0].name
    return str(find(reader, "mask", var, required=True))  # raises, listing the variables


def _read_mask_role(path: Path, var: str | None, notes: list[str]) -> Role:
    with open_reader(path) as rd:
        notes += _format_notes(rd)
        name = _mask_var(rd, var)
        return _read_role(rd, "mask", name)


def load_mask(path: PathLike, var: str | None = None, n_frames: int | None = None,
              layout: str = "auto", frames_hint: PathLike | None = None,
              notes: list[str] | None = None) -> np.ndarray:
    """Load a mask (B, H, W) from any supported file, e.g. to pair with a measurement.

    ``var``: the variable (default: ``mask`` or an alias, or the file's only array).
    ``n_frames``: keep the first B frames of a longer calibration mask (``real_mask.mat`` holds
    50; a cr10 capture uses 10). The layout is H x W x B or B x H x W, the short axis being B
    unless ``layout`` says otherwise. The dtype is kept (binary or calibrated grey-level masks).
    ``frames_hint``: the capture's file; a B its name states (``..._cr_10``) picks the first B frames
    of a longer mask, as :func:`load_capture` does, and a mask with fewer frames is used whole.
    ``notes``: a list to which how the mask was read is appended (frames used, 0/255 values).
    """
    path = Path(path)
    notes = [] if notes is None else notes
    hint = _cr_hint(Path(frames_hint)) if frames_hint else None
    forced = parse_layout(layout)
    with open_reader(path) as rd:
        role = _read_role(rd, "mask", _mask_var(rd, var))
        default = _default_layout(rd)
    arr, _ = squeeze_extra(role, 3)
    if arr.size == 0:
        raise CaptureError(f"{role.label} (mask) is empty (shape {shape_text(arr.shape)}).")
    if arr.ndim != 3:
        raise CaptureError(
            f"{role.label} (mask) is {shape_text(arr.shape)}; a CACTI mask is B x H x W or H x W x B "
            "with B >= 2 frames."
        )
    opt = best_single(arr, forced, default)
    mask3 = arr if opt == FIRST else np.moveaxis(arr, -1, 0)
    mask3 = binary_from_0_255(trim_frames(mask3, role, n_frames, hint, notes), role.var, notes)
    if mask3.shape[0] < 2:
        raise CaptureError(f"{role.label} (mask) has B = {mask3.shape[0]} frame; CACTI needs B >= 2.")
    _check_role_values(role.file, "mask", role.var, mask3)
    return mask3


def _roles(reader: Reader) -> dict[str, str]:
    roles: dict[str, str] = {}
    for role, text in (("meas", "measurement"), ("mask", "mask"), ("truth", "ground truth")):
        try:
            name = find(reader, role, None, required=False, exclude=set(roles))
        except CaptureError:
            name = None
        if name is not None:
            roles[name] = text
    return roles


def _describe_var(reader: Reader, info: VarInfo, role: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": info.name, "shape": list(info.shape), "dtype": info.dtype,
                             "numeric": info.numeric, "bytes": info.nbytes if info.numeric else None,
                             "role": role, "range": None, "nonfinite": None}
    if info.numeric and 0 < info.nbytes <= INSPECT_RANGE_BYTES:
        try:
            arr = reader.read(info.name)
            if arr.dtype.kind == "f":
                finite = np.isfinite(arr)
                entry["nonfinite"] = int(arr.size - np.count_nonzero(finite))
                vals = arr[finite] if entry["nonfinite"] else arr
            else:
                vals = arr
            if vals.size:
                entry["range"] = [float(np.min(vals)), float(np.max(vals))]
            entry["dtype"], entry["bytes"] = str(arr.dtype), int(arr.nbytes)
        except CaptureError as exc:
            entry["error"] = str(exc)
    return entry


def inspect_file(path: PathLike) -> dict[str, Any]:
    """What a file holds, without building a capture: format, variables with shapes, dtypes,
    value ranges (arrays up to :data:`INSPECT_RANGE_BYTES`) and the role each would play.

    Raises :class:`~sci_viewer.errors.CaptureError` only when the file cannot be parsed at all.
    Shapes are in the file author's order (MATLAB order for ``.mat`` files).
    """
    path = Path(path)
    with open_reader(path) as rd:
        roles = _roles(rd)
        variables = [_describe_var(rd, info, roles.get(name)) for name, info in rd.variables().items()]
        info = {
            "file": path.name,
            "path": str(path),
            "format": rd.format_name,
            "format_id": rd.fmt,
            "bytes": path.stat().st_size,
            "axis_order": "MATLAB (H x W x frames)" if rd.matlab_order else "as stored (C order)",
            "variables": variables,
            "notes": _format_notes(rd),
        }
    hint = _cr_hint(path)
    if hint:
        info["notes"].append(f"B = {hint[0]} frames per measurement {hint[1]}.")
    if not any(r == "measurement" for r in roles.values()):
        info["notes"].append("No measurement variable under a known name (" +
                             ", ".join(ALIASES["meas"][:4]) + ", ...).")
    return info


__all__ = ["load_capture", "load_mask", "inspect_file", "auto_scale", "frames_from_name"]
