"""Frame stacks for export: shape checks, display scaling to 8 bits, even padding for H.264."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from sci_viewer.errors import ExportError, JobCancelled

SCALES = ("clip", "minmax")


class CancelLike(Protocol):
    def is_set(self) -> bool: ...


def as_frames(video: np.ndarray) -> np.ndarray:
    """(n, B, H, W), (T, H, W) or (H, W) -> (T, H, W) view; anything else raises ExportError."""
    arr = np.asarray(video)
    if arr.dtype.kind not in "biuf":
        raise ExportError(f"Cannot export an array of type {arr.dtype}; a numeric video is needed.")
    if arr.ndim == 4:
        arr = arr.reshape(-1, *arr.shape[2:])
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise ExportError(
            f"Cannot export an array of shape {tuple(arr.shape)}: a video is (n, B, H, W) or (T, H, W)."
        )
    if 0 in arr.shape:
        raise ExportError(f"Cannot export an empty video (shape {tuple(arr.shape)}).")
    return arr


def value_range(frames: np.ndarray, scale: str) -> tuple[float, float]:
    """(lo, hi) mapped to black and white: (0, 1) for 'clip', the finite min/max for 'minmax'."""
    if scale not in SCALES:
        raise ExportError(f"Unknown export scale '{scale}': use 'clip' (values in [0, 1]) or 'minmax'.")
    if scale == "clip":
        return 0.0, 1.0
    finite = frames[np.isfinite(frames)] if frames.dtype.kind == "f" else frames
    if finite.size == 0:
        return 0.0, 1.0
    return float(np.min(finite)), float(np.max(finite))


def normalised(frame: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Float32 frame mapped so lo -> 0 and hi -> 1 (no clipping; NaN -> 0)."""
    f = np.nan_to_num(np.asarray(frame, dtype=np.float32), nan=lo, posinf=hi, neginf=lo)
    if (lo, hi) == (0.0, 1.0):
        return f
    return (f - lo) / (hi - lo) if hi > lo else np.zeros_like(f)


def to_uint8(frame: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip(normalised(frame, lo, hi), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def pad_even(frame: np.ndarray) -> np.ndarray:
    """Edge-pad odd heights/widths by one pixel (yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2)), mode="edge")


class Ticker:
    """Checks the cancel token before each frame and reports progress after it."""

    def __init__(self, total: int, cancel: CancelLike | None,
                 progress: Callable[[int, int], None] | None) -> None:
        self.total, self.cancel, self.progress = total, cancel, progress

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise JobCancelled("Export cancelled; nothing was written.")

    def done(self, n: int) -> None:
        if self.progress is not None:
            self.progress(n, self.total)
