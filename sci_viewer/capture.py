"""The capture: coded measurements, their mask, optional ground truth, and how to scale them.

Arrays are kept as loaded (no copy, any numeric dtype); :meth:`Capture.measurements` and
:meth:`Capture.ground_truth` return float32 views on the solvers' [0, 1]-frame scale.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from sci_viewer.correction import Correction
from sci_viewer.errors import CaptureError, MaskRequiredError


class Scale(str, Enum):
    """How raw measurement values map to frames in [0, 1].

    - ``sim255``: simulation convention, ``meas = sum_b mask_b * frame_b`` with frames on 0..255:
      divide by 255.
    - ``real_cr``: real-data convention of the CACTI toolboxes, ``meas / 255 * B / 2``.
    - ``max``: ``meas / max(meas) * B / 2`` (PnP-SCI's real-data scripts).
    - ``unit``: values are already on the [0, 1]-frame scale.
    """

    SIM255 = "sim255"
    REAL_CR = "real_cr"
    MAX = "max"
    UNIT = "unit"


SCALE_HELP = {
    Scale.SIM255: "simulation: frames 0–255, measurement = Σ mask·frame; divide by 255",
    Scale.REAL_CR: "real data: measurement / 255 × B / 2",
    Scale.MAX: "real data: measurement / max × B / 2",
    Scale.UNIT: "already on the [0, 1] frame scale",
}


@dataclass(frozen=True)
class Capture:
    """A CACTI capture.

    Parameters
    ----------
    meas : (N, H, W) array, raw values.
    mask : (B, H, W) array or None (a real capture may arrive without its mask).
    truth : (N, B, H, W) array or None, frames on 0..255 (or 0..1 if ``truth_max <= 1``).
    name, source, mask_source : for display and reports.
    scale : how raw measurement values map to [0, 1] frames, see :class:`Scale`.
    notes : how the file was read (the loaders').
    correction : dark frame and saturation level (:class:`~sci_viewer.correction.Correction`);
        ``meas`` stays raw, :meth:`measurements` returns it corrected (see :meth:`with_correction`).
    """

    meas: np.ndarray
    mask: np.ndarray | None = None
    truth: np.ndarray | None = None
    name: str = "capture"
    source: str | None = None
    mask_source: str | None = None
    scale: Scale = Scale.SIM255
    notes: tuple[str, ...] = field(default_factory=tuple)
    correction: Correction = field(default_factory=Correction)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", Scale(self.scale))
        validate(self)

    # -- shape facts -------------------------------------------------------------------------
    @property
    def n_meas(self) -> int:
        return int(self.meas.shape[0])

    @property
    def frame_shape(self) -> tuple[int, int]:
        return int(self.meas.shape[1]), int(self.meas.shape[2])

    @property
    def n_frames(self) -> int | None:
        """B, the frames coded into one measurement (None without a mask)."""
        return None if self.mask is None else int(self.mask.shape[0])

    @property
    def has_truth(self) -> bool:
        return self.truth is not None

    # -- scaled data for the solvers ---------------------------------------------------------
    def require_mask(self) -> np.ndarray:
        if self.mask is None:
            raise MaskRequiredError(
                f"'{self.name}' has no mask: a reconstruction needs the calibrated mask the camera "
                "used (B x H x W). Load it with --mask FILE (CLI) or File > Open Mask (app)."
            )
        return self.mask

    def measurement_factor(self) -> float:
        """Multiply raw measurements by this to reach the [0, 1]-frame scale."""
        b = self.n_frames or 1
        if self.scale is Scale.SIM255:
            return 1.0 / 255.0
        if self.scale is Scale.REAL_CR:
            return b / 2.0 / 255.0
        if self.scale is Scale.MAX:
            peak = self.correction.peak(self.meas)
            return b / 2.0 / peak if peak > 0 else 1.0
        return 1.0

    def measurements(self, indices: list[int] | None = None) -> np.ndarray:
        """Float32 measurements (n, H, W) on the solvers' scale, the dark frame subtracted."""
        idx = self.check_indices(indices)
        return self.correction.subtract(self.meas[idx]) * np.float32(self.measurement_factor())

    def valid_pixels(self, indices: list[int] | None = None) -> np.ndarray | None:
        """Float32 (n, H, W): 1 where a measurement pixel counts in the data term, 0 where it is
        saturated; None without a saturation level."""
        return self.correction.valid(self.meas[self.check_indices(indices)])

    def mask_float(self) -> np.ndarray:
        return self.require_mask().astype(np.float32, copy=False)

    def truth_factor(self) -> float:
        assert self.truth is not None
        return 1.0 if float(np.max(self.truth)) <= 1.0 else 1.0 / 255.0

    def ground_truth(self, indices: list[int] | None = None) -> np.ndarray | None:
        """Float32 ground truth (n, B, H, W) in [0, 1], or None."""
        if self.truth is None:
            return None
        idx = self.check_indices(indices)
        return self.truth[idx].astype(np.float32) * np.float32(self.truth_factor())

    def check_indices(self, indices: list[int] | None) -> list[int]:
        if indices is None:
            return list(range(self.n_meas))
        if not indices:
            raise CaptureError(f"No measurement chosen: '{self.name}' has {self.n_meas} measurement(s), "
                               f"numbered 0..{self.n_meas - 1}.")
        bad = [i for i in indices if not 0 <= i < self.n_meas]
        if bad:
            raise CaptureError(
                f"Measurement index {bad} is out of range: '{self.name}' has "
                f"{self.n_meas} measurement(s), numbered 0..{self.n_meas - 1}."
            )
        twice = sorted(i for i, n in Counter(indices).items() if n > 1)
        if twice:
            raise CaptureError(f"Measurement {', '.join(map(str, twice))} is listed more than once.")
        return list(indices)

    # -- derived captures --------------------------------------------------------------------
    def with_mask(self, mask: np.ndarray, source: str | None = None) -> Capture:
        """A copy with another mask (validated against this capture's shapes)."""
        return replace(self, mask=mask, mask_source=source)

    def with_scale(self, scale: Scale | str) -> Capture:
        return replace(self, scale=Scale(scale))

    def with_correction(self, correction: Correction) -> Capture:
        """A copy whose solvers' data is corrected by ``correction`` (replacing any earlier one);
        the raw measurement is shared, not copied."""
        return replace(self, correction=correction)

    def config(self) -> dict:
        """Where this capture came from and how it is read, as a run configuration records it."""
        return {"source": self.source, "mask": self.mask_source, "scale": self.scale.value, "name": self.name,
                **self.correction.config()}

    def subset(self, indices: list[int]) -> Capture:
        idx = self.check_indices(indices)
        truth = None if self.truth is None else self.truth[idx]
        return replace(self, meas=self.meas[idx], truth=truth)

    def describe(self) -> dict:
        """Plain-data summary for the info command and the app's summary panel. ``notes``: the
        loaders' notes, then the correction's and the data's (negative pixels, dark, saturation)."""
        stats = self.correction.stats(self.meas)
        d = {
            "name": self.name,
            "source": self.source,
            "mask_source": self.mask_source,
            "measurements": self.n_meas,
            "frames_per_measurement": self.n_frames,
            "frame_size": list(self.frame_shape),
            "meas_dtype": str(self.meas.dtype),
            "meas_range": [float(np.min(self.meas)), float(np.max(self.meas))],
            "mask": None,
            "ground_truth": self.has_truth,
            "scale": self.scale.value,
            "scale_meaning": SCALE_HELP[self.scale],
            "negative_pixels": stats["negative_pixels"],
            "negative_min": stats["negative_min"],
            "dark": self.correction.dark_config(),
            "corrected_range": stats["corrected_range"] if self.correction.dark is not None else None,
            "saturation": self.correction.saturation,
            "saturated_pixels": stats["saturated_pixels"],
            "notes": list(self.notes) + self.correction.notes(stats),
        }
        if self.mask is not None:
            phi_sum = self.mask.astype(np.float64).sum(0)
            values = np.unique(self.mask[..., : min(64, self.mask.shape[-1])])
            d["mask"] = {
                "shape": list(self.mask.shape),
                "dtype": str(self.mask.dtype),
                "range": [float(np.min(self.mask)), float(np.max(self.mask))],
                "binary": bool(values.size <= 2 and set(values.tolist()) <= {0, 1}),
                "mean": float(np.mean(self.mask)),
                "zero_exposure_pixels": int(np.count_nonzero(phi_sum == 0)),
            }
        if self.truth is not None:
            d["truth_shape"] = list(self.truth.shape)
            d["truth_range"] = [float(np.min(self.truth)), float(np.max(self.truth))]
        return d


def _check_values(name: str, what: str, arr: np.ndarray, negative_ok: bool = False) -> None:
    """Refuse a non-numeric, empty or non-finite array, and (unless ``negative_ok``: measurements,
    which dark subtraction and read noise make negative) one with negative values."""
    if arr.dtype.kind not in "biuf":
        raise CaptureError(f"{name}: the {what} has data type {arr.dtype}; a numeric array is needed.")
    if arr.size == 0:
        raise CaptureError(f"{name}: the {what} is empty (shape {tuple(arr.shape)}).")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            n_bad = int(arr.size - np.count_nonzero(finite))
            raise CaptureError(
                f"{name}: the {what} contains {n_bad} NaN or infinite value(s); "
                "fix or crop the data before reconstructing."
            )
    if not negative_ok and np.min(arr) < 0:
        raise CaptureError(
            f"{name}: the {what} has negative values (min {float(np.min(arr)):g}); "
            f"{'masks' if 'mask' in what else 'frames'} are non-negative."
        )


def validate(c: Capture) -> None:
    """Raise :class:`CaptureError` naming the first inconsistency in a capture."""
    name = c.name
    if c.meas.ndim != 3:
        raise CaptureError(
            f"{name}: measurements must be N x H x W (3-D), found shape {tuple(c.meas.shape)}."
        )
    _check_values(name, "measurement", c.meas, negative_ok=True)
    h, w = c.frame_shape
    c.correction.check(name, (h, w))
    if c.mask is not None:
        if c.mask.ndim != 3:
            raise CaptureError(f"{name}: the mask must be B x H x W (3-D), found {tuple(c.mask.shape)}.")
        if tuple(c.mask.shape[1:]) != (h, w):
            raise CaptureError(
                f"{name}: mask frames are {c.mask.shape[1]} x {c.mask.shape[2]} but the measurement is "
                f"{h} x {w}; mask and measurement must have the same height and width."
            )
        if c.mask.shape[0] < 2:
            raise CaptureError(f"{name}: the mask has B = {c.mask.shape[0]} frame(s); CACTI needs B >= 2.")
        _check_values(name, "mask", c.mask)
        if not np.any(c.mask):
            raise CaptureError(f"{name}: the mask is all zeros; no pixel was ever exposed.")
    if c.truth is not None:
        if c.truth.ndim != 4:
            raise CaptureError(
                f"{name}: ground truth must be N x B x H x W, found shape {tuple(c.truth.shape)}."
            )
        n, b = c.n_meas, c.n_frames
        if c.truth.shape[0] != n or tuple(c.truth.shape[2:]) != (h, w) or (b and c.truth.shape[1] != b):
            raise CaptureError(
                f"{name}: ground truth has shape {tuple(c.truth.shape)}, expected "
                f"{n} x {b or 'B'} x {h} x {w} (measurements x frames x H x W)."
            )
        _check_values(name, "ground truth", c.truth)
