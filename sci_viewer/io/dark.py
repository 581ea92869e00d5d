"""Reading a dark frame (H x W, or a stack of dark frames averaged to H x W) and parsing ``--dark``."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from sci_viewer.capture import Capture
from sci_viewer.correction import Correction
from sci_viewer.errors import CaptureError
from sci_viewer.io.formats import Reader, open_reader, shape_text
from sci_viewer.io.variables import ALIASES, _lookup, find, listing

#: Names a dark frame is looked up under (case-insensitively), before the file's only array or its
#: measurement variable (a stack of frames taken with the shutter closed).
DARK_ALIASES = ("dark", "dark_frame", "darkframe", "dark_frames", "darks", "bias", "background", "bg")


def _dark_var(reader: Reader, var: str | None) -> str:
    variables = reader.variables()
    if var:
        found = _lookup(variables, var)
        if found is None:
            raise CaptureError(f"{reader.path.name} has no variable '{var}' (asked for as the dark frame); "
                               f"the file has: {listing(variables)}.")
        return found
    for alias in DARK_ALIASES:
        found = _lookup(variables, alias)
        if found is not None:
            return found
    numeric = [v.name for v in variables.values() if v.numeric and len(v.shape) >= 2]
    if len(numeric) == 1:
        return numeric[0]
    meas = find(reader, "meas", None, required=False)
    if meas is not None:
        return meas
    raise CaptureError(f"{reader.path.name}: no dark frame found (looked for {', '.join(DARK_ALIASES[:4])} ..., "
                       f"the file's only array, {ALIASES['meas'][0]}); the file has: {listing(variables)}.")


def load_dark(path: str | os.PathLike, frame_shape: tuple[int, int], var: str | None = None) -> tuple[np.ndarray, str]:
    """A float32 (H, W) dark frame from any capture format, and a note saying how it was read.

    The file holds one H x W frame or a stack of them (K x H x W, or H x W x K as MATLAB stores it),
    which is averaged. ``frame_shape`` is the measurement's (H, W): it decides the stack's axis order.
    Raises :class:`CaptureError` naming the file, the variable and the shapes.
    """
    path = Path(path)
    h, w = frame_shape
    with open_reader(path) as rd:
        name = _dark_var(rd, var)
        arr = rd.read(name)
    label = f"{path.name}: variable '{name}'"
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        raise CaptureError(f"{label} (dark frame) is not a non-empty numeric array.")
    if arr.ndim > 2:
        squeezed = np.squeeze(arr)
        arr = squeezed if squeezed.ndim >= 2 else arr
    if arr.ndim == 2 and arr.shape == (h, w):
        frame, how = arr.astype(np.float32), f"variable '{name}', one {h} x {w} frame"
    elif arr.ndim == 3 and arr.shape[1:] == (h, w):
        frame, how = arr.mean(0, dtype=np.float64).astype(np.float32), f"variable '{name}', mean of {arr.shape[0]} frames"
    elif arr.ndim == 3 and arr.shape[:2] == (h, w):
        frame, how = arr.mean(-1, dtype=np.float64).astype(np.float32), f"variable '{name}', mean of {arr.shape[2]} frames"
    else:
        raise CaptureError(f"{label} (dark frame) is {shape_text(arr.shape)}; the measurement is {h} x {w}, so a "
                           f"dark frame must be {h} x {w} or a stack of {h} x {w} frames.")
    if not np.isfinite(frame).all():
        raise CaptureError(f"{label} (dark frame) contains NaN or infinite values.")
    return frame, how


def dark_correction(capture: Capture, dark: str | float | None, saturation: float | None = None,
                    dark_var: str | None = None) -> Correction:
    """The :class:`Correction` for ``dark`` (a file, a number, a number as text, or None) and a
    saturation level, checked against ``capture``'s frames. A text that names an existing file is
    that file, else it must be a number."""
    if isinstance(dark, str):
        text = dark.strip()
        if not Path(text).is_file():
            try:
                dark = float(text)
            except ValueError:
                raise CaptureError(f"Dark frame '{dark}': no such file, and not a number (a constant offset)."
                                   ) from None
    if saturation is not None and not (math.isfinite(saturation) and saturation > 0):
        raise CaptureError(f"The saturation level must be a finite number above 0, got {saturation}.")
    if dark is None or isinstance(dark, (int, float)):
        if dark is not None and not math.isfinite(dark):
            raise CaptureError(f"The dark offset {dark} is not a finite number.")
        return Correction(dark=None if dark is None else float(dark), saturation=saturation)
    frame, how = load_dark(dark, capture.frame_shape, dark_var)
    return Correction(dark=frame, dark_source=str(dark), dark_note=how, saturation=saturation)


def apply_correction(capture: Capture, dark: str | float | None, saturation: float | None = None,
                     dark_var: str | None = None) -> Capture:
    """``capture`` with the dark frame / offset and the saturation level applied (see :func:`dark_correction`)."""
    return capture.with_correction(dark_correction(capture, dark, saturation, dark_var))


__all__ = ["load_dark", "dark_correction", "apply_correction", "DARK_ALIASES"]
