"""From raw sensor values to the data the solvers fit: dark-frame subtraction and saturation.

A :class:`~sci_viewer.capture.Capture` keeps its measurement exactly as loaded (``meas``, raw units)
and a :class:`Correction` beside it: what is subtracted (a dark frame of H x W, or one constant offset,
in raw units) and the raw level at or above which a pixel is *saturated* (clipped by the sensor; the
level is compared with the raw value, before dark subtraction). The solvers see ``meas - dark`` on
their scale; saturated pixels are left out of the data term (see :class:`sci_viewer.physics.Cacti`).

Dark-subtracted data has negative pixels (read noise alone makes them): they are valid and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sci_viewer.errors import CaptureError

#: Written into configurations for a dark frame given as an array from Python (not replayable from a file).
ARRAY_DARK = "(array given in Python)"


@dataclass(frozen=True, eq=False)
class Correction:
    """What turns raw measurements into the solvers' data.

    Parameters
    ----------
    dark : None, a constant offset, or an (H, W) float32 dark frame, in raw measurement units.
    dark_source : the file the dark frame came from (None for a constant or none).
    dark_note : how the dark frame was read (variable, frames averaged), for the notes.
    saturation : raw level at or above which a pixel counts as saturated; None: no pixel is.
    """

    dark: np.ndarray | float | None = None
    dark_source: str | None = None
    dark_note: str | None = None
    saturation: float | None = None

    @property
    def active(self) -> bool:
        return self.dark is not None or self.saturation is not None

    @property
    def dark_is_frame(self) -> bool:
        return isinstance(self.dark, np.ndarray)

    def check(self, name: str, frame_shape: tuple[int, int]) -> None:
        """Raise :class:`CaptureError` if the dark frame or level cannot go with frames of ``frame_shape``."""
        if self.dark_is_frame:
            dark = self.dark
            assert isinstance(dark, np.ndarray)
            if tuple(dark.shape) != tuple(frame_shape):
                raise CaptureError(
                    f"{name}: the dark frame is {' x '.join(map(str, dark.shape))} but the measurement is "
                    f"{frame_shape[0]} x {frame_shape[1]}; a dark frame must have the measurement's height "
                    "and width (or be one constant offset).")
            if not np.isfinite(dark).all():
                raise CaptureError(f"{name}: the dark frame contains NaN or infinite values.")
        elif self.dark is not None and not math.isfinite(float(self.dark)):
            raise CaptureError(f"{name}: the dark offset {self.dark} is not a finite number.")
        if self.saturation is not None and not (math.isfinite(self.saturation) and self.saturation > 0):
            raise CaptureError(f"{name}: the saturation level must be a finite number above 0, "
                               f"got {self.saturation}.")

    # -- the data ----------------------------------------------------------------------------
    def subtract(self, raw: np.ndarray) -> np.ndarray:
        """Float32 ``raw - dark`` (raw: (..., H, W)); without a dark frame exactly ``raw`` as float32."""
        out = raw.astype(np.float32)
        if self.dark is None:
            return out
        dark = self.dark if self.dark_is_frame else np.float32(self.dark)
        out -= dark
        return out

    def valid(self, raw: np.ndarray) -> np.ndarray | None:
        """Float32 weights (..., H, W): 1 where the measurement counts, 0 at saturated pixels; None
        without a saturation level (every pixel counts)."""
        if self.saturation is None:
            return None
        return (raw < self.saturation).astype(np.float32)

    def stats(self, raw: np.ndarray) -> dict[str, Any]:
        """Counts over the whole (N, H, W) measurement: negative pixels and their minimum after the
        dark subtraction, the corrected value range, saturated pixels. One measurement at a time."""
        negative, low, high, saturated = 0, math.inf, -math.inf, 0
        for frame in raw:
            data = self.subtract(frame) if self.dark is not None else frame
            neg = data < 0
            negative += int(np.count_nonzero(neg))
            low, high = min(low, float(np.min(data))), max(high, float(np.max(data)))
            if self.saturation is not None:
                saturated += int(np.count_nonzero(frame >= self.saturation))
        return {"negative_pixels": negative, "negative_min": low if negative else None,
                "corrected_range": [low, high],
                "saturated_pixels": saturated if self.saturation is not None else None,
                "pixels": int(raw.size)}

    def peak(self, raw: np.ndarray) -> float:
        """The largest corrected value (the ``max`` scale divides by it)."""
        if self.dark is None:
            return float(np.max(raw))
        return max(float(np.max(self.subtract(frame))) for frame in raw)

    # -- provenance --------------------------------------------------------------------------
    def dark_config(self) -> str | float | None:
        """What a configuration records for the dark frame: its file, the constant, or None."""
        if self.dark is None:
            return None
        if self.dark_is_frame:
            return self.dark_source or ARRAY_DARK
        return float(self.dark)  # type: ignore[arg-type]

    def config(self) -> dict[str, Any]:
        """``{"dark": file | constant | None, "saturation": level | None}`` (saved with a run)."""
        return {"dark": self.dark_config(), "saturation": self.saturation}

    def notes(self, stats: dict[str, Any]) -> list[str]:
        """What the correction did and what the data looks like after it, for info, the summary and the log."""
        out: list[str] = []
        if self.dark is not None:
            if self.dark_is_frame:
                frame = self.dark
                assert isinstance(frame, np.ndarray)
                what = (f"dark frame {self.dark_source or ARRAY_DARK} (mean {float(frame.mean()):.4g}, "
                        f"range {float(frame.min()):.4g}..{float(frame.max()):.4g})")
            else:
                what = f"constant dark offset {float(self.dark):g}"  # type: ignore[arg-type]
            out.append(f"Dark subtracted: {what}" + (f"; {self.dark_note}" if self.dark_note else "")
                       + ". The raw values are kept; the solvers see raw - dark.")
        if stats["negative_pixels"]:
            share = 100.0 * stats["negative_pixels"] / max(1, stats["pixels"])
            out.append(f"{stats['negative_pixels']} measurement pixel(s) ({share:.2g}%) are negative, min "
                       f"{stats['negative_min']:g}: accepted (dark-subtracted data and read noise make them).")
        if self.saturation is not None:
            n = stats["saturated_pixels"]
            share = 100.0 * n / max(1, stats["pixels"])
            out.append(f"Saturation level {self.saturation:g} (raw units): {n} pixel(s) ({share:.2g}%) at or "
                       "above it are left out of the data term" + ("." if n else "; none reaches it."))
        return out
