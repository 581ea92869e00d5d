"""Writing a reconstruction: MP4, GIF, TIFF stack, PNG frames, ``.npz`` and ``.mat``, atomically."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sci_viewer.errors import ExportError, JobCancelled
from sci_viewer.export.atomic import atomic_path
from sci_viewer.export.frames import (CancelLike, Ticker, as_frames, normalised, pad_even, to_uint8,
                                      value_range)

#: File suffix -> human name, for file dialogs and ``--out`` validation.
EXPORT_FORMATS: dict[str, str] = {
    ".mp4": "MP4 video (H.264)",
    ".gif": "Animated GIF",
    ".tif": "TIFF stack (float32)",
    ".tiff": "TIFF stack (float32)",
    ".png": "PNG frames (a folder)",
    ".npz": "NumPy archive (.npz)",
    ".mat": "MATLAB file (.mat)",
}
_MAT_V5_LIMIT = 2**31 - 1024  # bytes per variable a MATLAB v5 file can hold


@dataclass
class _Export:
    frames: np.ndarray  # (T, H, W)
    original: np.ndarray  # as passed (kept for .npz)
    fps: float
    scale: str
    lo: float
    hi: float
    ticker: Ticker
    metadata: dict[str, Any]

    def data(self, frame: np.ndarray) -> np.ndarray:
        """Float32 values for the lossless formats (unchanged with scale 'clip')."""
        return normalised(frame, self.lo, self.hi) if self.scale == "minmax" else np.asarray(
            frame, dtype=np.float32)

    def meta_json(self) -> str:
        return json.dumps(self.metadata, default=str, sort_keys=True)


def _write_mp4(tmp: Path, job: _Export) -> None:
    import imageio_ffmpeg

    h, w = pad_even(job.frames[0]).shape
    writer = imageio_ffmpeg.write_frames(
        str(tmp), (w, h), pix_fmt_in="gray", pix_fmt_out="yuv420p", fps=job.fps, quality=8,
        codec="libx264", macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-f", "mp4"],
    )
    writer.send(None)
    try:
        for i, frame in enumerate(job.frames):
            job.ticker.check()
            writer.send(np.ascontiguousarray(pad_even(to_uint8(frame, job.lo, job.hi))))
            job.ticker.done(i + 1)
    finally:
        writer.close()  # waits for ffmpeg to exit, also on errors, before the temp file is removed


def _write_gif(tmp: Path, job: _Export) -> None:
    from PIL import Image

    images = []
    for i, frame in enumerate(job.frames):
        job.ticker.check()
        images.append(Image.fromarray(to_uint8(frame, job.lo, job.hi), mode="L"))
        job.ticker.done(i + 1)
    job.ticker.check()
    duration = max(20, int(round(1000.0 / job.fps)))
    # optimize=False: Pillow's palette optimisation shifts grey levels by up to 3 in frames that
    # use fewer than 256 of them; without it each frame keeps its exact 8-bit values
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration,
                   loop=0, optimize=False)


def _write_tiff(tmp: Path, job: _Export) -> None:
    import tifffile

    t, h, w = job.frames.shape

    def pages():
        for i, frame in enumerate(job.frames):
            job.ticker.check()
            yield np.ascontiguousarray(job.data(frame))
            job.ticker.done(i + 1)

    tifffile.imwrite(tmp, pages(), shape=(t, h, w), dtype=np.float32, photometric="minisblack",
                     bigtiff=t * h * w * 4 > 2**32 - 2**26,
                     metadata={"axes": "TYX", "fps": job.fps})


def _write_png(tmp: Path, job: _Export, stem: str) -> None:
    import cv2

    tmp.mkdir()
    digits = max(3, len(str(len(job.frames) - 1)))
    for i, frame in enumerate(job.frames):
        job.ticker.check()
        target = tmp / f"{stem}_{i:0{digits}d}.png"
        if not cv2.imwrite(str(target), to_uint8(frame, job.lo, job.hi)):
            raise OSError(f"the PNG encoder could not write {target.name}")
        job.ticker.done(i + 1)


def _write_npz(tmp: Path, job: _Export) -> None:
    job.ticker.check()
    data = job.data(job.original)
    with open(tmp, "wb") as fh:
        np.savez(fh, reconstruction=data, fps=np.float64(job.fps), metadata_json=np.str_(job.meta_json()))
    job.ticker.done(len(job.frames))


def _write_mat(tmp: Path, job: _Export) -> None:
    import scipy.io

    job.ticker.check()
    if job.frames.size * 4 > _MAT_V5_LIMIT:
        raise ExportError(
            f"The video is {job.frames.size * 4 / 2**30:.1f} GiB; a MATLAB v5 .mat variable holds at "
            "most 2 GiB. Export to .npz or .tif instead."
        )
    recon = np.moveaxis(job.data(job.frames), 0, -1)  # H x W x T, MATLAB layout
    with open(tmp, "wb") as fh:
        scipy.io.savemat(fh, {"recon": recon, "fps": float(job.fps), "metadata_json": job.meta_json()},
                         do_compression=False)
    job.ticker.done(len(job.frames))


_WRITERS: dict[str, Callable[[Path, _Export], None]] = {
    ".mp4": _write_mp4, ".gif": _write_gif, ".tif": _write_tiff, ".tiff": _write_tiff,
    ".npz": _write_npz, ".mat": _write_mat,
}


def output_path(path: str | os.PathLike) -> Path:
    """Where :func:`export_video` puts ``path``: itself, or for ``name.png`` the folder ``name/``."""
    p = Path(path)
    return p.with_suffix("") if p.suffix.lower() == ".png" else p


def _earlier_png_export(folder: Path) -> bool:
    """True if ``folder`` holds only the frames of an earlier ``.png`` export to the same name."""
    pattern = re.compile(re.escape(folder.name) + r"_\d+\.png")
    return all(child.is_file() and pattern.fullmatch(child.name) for child in folder.iterdir())


def check_export_target(path: str | os.PathLike, fps: float = 10, overwrite: bool = True) -> Path:
    """Refuse what :func:`export_video` would refuse about ``path`` and ``fps`` (format, frame rate,
    a missing folder, something in the way), so a long job can be checked before it runs.
    Returns the path written."""
    requested = Path(path)
    suffix = requested.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ExportError(
            f"Cannot export to '{requested.name}': unknown format '{suffix or '(no suffix)'}'. "
            f"Use one of {', '.join(sorted(set(EXPORT_FORMATS)))}."
        )
    if not fps > 0:
        raise ExportError(f"Frame rate must be positive, got {fps}.")
    target = output_path(requested)
    folder = target.absolute().parent
    if not folder.is_dir():
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        why = f"'{blocker}' is a file, not a folder" if blocker is not None and not blocker.is_dir() \
            else f"the folder '{folder}' does not exist"
        raise ExportError(f"Cannot export to '{target}': {why}.")
    if target.exists():
        if suffix == ".png" and (not target.is_dir() or not _earlier_png_export(target)):
            what = "a file" if not target.is_dir() else "a folder holding other files"
            raise ExportError(f"Cannot export PNG frames to '{target}': {what} is there; choose another name.")
        if suffix != ".png" and target.is_dir():
            raise ExportError(f"Cannot export to '{target}': a folder of that name is there; choose another name.")
        if not overwrite:
            raise ExportError(f"'{target}' already exists; choose another name or allow overwriting.")
    return target


def export_video(path: str | os.PathLike, video: np.ndarray, *, fps: float = 10, scale: str = "clip",
                 cancel: CancelLike | None = None, progress: Callable[[int, int], None] | None = None,
                 metadata: dict[str, Any] | None = None, overwrite: bool = True) -> Path:
    """Write ``video`` to ``path``, the format chosen by its suffix (see :data:`EXPORT_FORMATS`).

    Parameters
    ----------
    video : (n, B, H, W) or (T, H, W) frames, float on [0, 1] (any range with ``scale="minmax"``).
    fps : frame rate of .mp4/.gif (stored as metadata in the others).
    scale : ``"clip"``: 8-bit formats (.mp4, .gif, .png) clip to [0, 1]; the float formats
        (.tif, .npz, .mat) store the values unchanged. ``"minmax"``: every format stretches the
        video's finite min..max to 0..1 first.
    cancel : object with ``is_set()``, checked before each frame; when set, the export stops,
        nothing is left behind and :class:`~sci_viewer.errors.JobCancelled` is raised.
    progress : ``progress(done, total)`` after each frame.
    metadata : JSON-able facts stored in .npz/.mat (``metadata_json``), e.g. the job's config.
    overwrite : replace an existing file (atomically, only once the new one is complete).

    Formats: ``.mp4`` H.264 (libx264, yuv420p; odd sizes edge-padded to even), ``.gif``, ``.tif``/
    ``.tiff`` float32 page stack (lossless), ``.png``: ``dir/name.png`` -> folder ``dir/name/`` with
    ``name_000.png``, ... (written as a whole: a temporary folder renamed into place), ``.npz``:
    key ``reconstruction`` (the array's own shape) plus ``fps`` and ``metadata_json``, ``.mat``:
    variable ``recon`` H x W x T (MATLAB layout) plus ``fps`` and ``metadata_json``.

    Returns the path written (the folder for ``.png``). Failures raise
    :class:`~sci_viewer.errors.ExportError`; an existing file is never replaced by a partial one.
    """
    suffix = Path(path).suffix.lower()
    target = check_export_target(path, fps, overwrite)
    frames = as_frames(video)
    lo, hi = value_range(frames, scale)
    meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "fps": fps,
            "scale": scale, "shape": list(np.shape(video)), **(metadata or {})}
    job = _Export(frames, np.asarray(video), float(fps), scale, lo, hi,
                  Ticker(len(frames), cancel, progress), meta)
    job.ticker.check()
    try:
        with atomic_path(target) as tmp:
            if suffix == ".png":
                _write_png(tmp, job, target.name)
            else:
                _WRITERS[suffix](tmp, job)
            job.ticker.check()
    except (ExportError, JobCancelled):
        raise
    except Exception as exc:  # noqa: BLE001 - encoder failures reach the user as an ExportError
        raise ExportError(f"Could not write '{target}': {type(exc).__name__}: {exc}. "
                          "Nothing was written.") from exc
    return target
