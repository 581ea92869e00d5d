"""Exports: every format reads back, and failures/cancels never leave partial or broken files."""

from __future__ import annotations

import csv
import errno
import os
import threading
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import scipy.io
import tifffile
import yaml
from PIL import Image

from sci_viewer.capture import Scale
from sci_viewer.engine import IterationEvent
from sci_viewer.errors import ExportError, JobCancelled
from sci_viewer.export import (EXPORT_FORMATS, atomic_path, export_video, save_config_yaml,
                               side_by_side, write_metrics_csv)
from sci_viewer.export import video as video_mod

T_N, T_B, HH, WW = 2, 4, 33, 46  # odd height: the MP4 is padded to even


@pytest.fixture()
def video():
    return np.random.default_rng(0).random((T_N, T_B, HH, WW)).astype(np.float32)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _mp4_frames(path: Path) -> tuple[tuple[int, int], int]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    return tuple(meta["size"]), sum(1 for _ in reader)


def test_formats_listed():
    assert {".mp4", ".gif", ".tif", ".tiff", ".png", ".npz", ".mat"} <= set(EXPORT_FORMATS)


def test_mp4_reads_back(tmp_path, video):
    calls = []
    out = export_video(tmp_path / "r.mp4", video, fps=12, progress=lambda d, t: calls.append((d, t)))
    assert out == tmp_path / "r.mp4"
    size, count = _mp4_frames(out)
    assert count == T_N * T_B and size == (WW, HH + 1)
    assert calls[-1] == (8, 8) and len(calls) == 8
    assert _listing(tmp_path) == ["r.mp4"]


def test_gif_reads_back(tmp_path, video):
    out = export_video(tmp_path / "r.gif", video)
    with Image.open(out) as im:
        assert im.n_frames == T_N * T_B and im.size == (WW, HH)


def test_gif_frames_keep_their_exact_grey_levels(tmp_path):
    from PIL import ImageSequence

    # a frame using all 256 grey levels, then one missing a few: Pillow's palette optimisation
    # used to shift the second frame's levels by up to 3
    full = np.random.default_rng(3).integers(0, 256, (64, 64)).astype(np.uint8)
    fewer = np.where((full >= 100) & (full <= 102), 103, full).astype(np.uint8)
    frames = np.stack([full, fewer]).astype(np.float32) / 255
    out = export_video(tmp_path / "g.gif", frames)
    with Image.open(out) as im:
        back = np.stack([np.asarray(f.convert("L")) for f in ImageSequence.Iterator(im)])
    assert np.array_equal(back, (frames * 255 + 0.5).astype(np.uint8))


def test_tiff_values_exact(tmp_path, video):
    for suffix in (".tif", ".tiff"):
        out = export_video(tmp_path / f"r{suffix}", video * 3 - 1)  # outside [0, 1]: kept unclipped
        back = tifffile.imread(out)
        assert back.dtype == np.float32 and np.array_equal(back, (video * 3 - 1).reshape(-1, HH, WW))


def test_png_folder(tmp_path, video):
    out = export_video(tmp_path / "frames.png", video)
    assert out == tmp_path / "frames" and out.is_dir()
    names = _listing(out)
    assert names[0] == "frames_000.png" and len(names) == 8
    first = np.asarray(Image.open(out / names[0]))
    assert first.shape == (HH, WW) and np.abs(first / 255.0 - video[0, 0]).max() <= 0.5 / 255 + 1e-6


def test_npz_and_mat(tmp_path, video):
    out = export_video(tmp_path / "r.npz", video, metadata={"algo": "gap-tv"})
    with np.load(out) as data:
        assert np.array_equal(data["reconstruction"], video)
        assert '"algo": "gap-tv"' in str(data["metadata_json"])
    out = export_video(tmp_path / "r.mat", video, fps=5)
    recon = scipy.io.loadmat(out)["recon"]
    assert recon.shape == (HH, WW, T_N * T_B)
    assert np.array_equal(recon[:, :, 5], video.reshape(-1, HH, WW)[5])


def test_minmax_scale(tmp_path):
    v = np.linspace(-5, 7, 4 * 8 * 8, dtype=np.float32).reshape(4, 8, 8)
    back = tifffile.imread(export_video(tmp_path / "m.tif", v, scale="minmax"))
    assert back.min() == 0.0 and back.max() == 1.0
    export_video(tmp_path / "m.gif", v, scale="minmax")
    with pytest.raises(ExportError, match="Unknown export scale"):
        export_video(tmp_path / "m.gif", v, scale="gamma")


def test_bad_arguments(tmp_path, video):
    with pytest.raises(ExportError, match="unknown format '.avi'"):
        export_video(tmp_path / "r.avi", video)
    with pytest.raises(ExportError, match="shape"):
        export_video(tmp_path / "r.mp4", np.zeros(5))
    (tmp_path / "keep.mp4").write_bytes(b"old")
    with pytest.raises(ExportError, match="already exists"):
        export_video(tmp_path / "keep.mp4", video, overwrite=False)
    assert (tmp_path / "keep.mp4").read_bytes() == b"old"


class _CancelAfter:
    """A cancel token that trips once ``n`` frames were reported."""

    def __init__(self, n: int) -> None:
        self.n, self.event = n, threading.Event()

    def progress(self, done: int, total: int) -> None:
        if done >= self.n:
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".tif", ".png", ".npz", ".mat"])
def test_cancel_leaves_nothing_and_keeps_old_file(tmp_path, video, suffix):
    target = tmp_path / f"r{suffix}"
    export_video(target, video[:1])  # a good earlier export
    final = video_mod.output_path(target)
    before = {p.name: p.read_bytes() for p in ([final] if final.is_file() else final.iterdir())}
    token = _CancelAfter(3)
    with pytest.raises(JobCancelled):
        export_video(target, video, cancel=token, progress=token.progress)
    after = {p.name: p.read_bytes() for p in ([final] if final.is_file() else final.iterdir())}
    assert after == before
    assert _listing(tmp_path) == [final.name]


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".png", ".tif"])
def test_writer_failure_mid_write(tmp_path, video, monkeypatch, suffix):
    target = tmp_path / f"r{suffix}"
    export_video(target, video[:1])
    final = video_mod.output_path(target)
    snapshot = {p.name: p.read_bytes() for p in ([final] if final.is_file() else final.iterdir())}
    calls = {"n": 0}
    real_u8, real_data = video_mod.to_uint8, video_mod._Export.data

    def flaky(fn):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 3:
                raise RuntimeError("encoder crashed")
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(video_mod, "to_uint8", flaky(real_u8))
    monkeypatch.setattr(video_mod._Export, "data", flaky(real_data))
    with pytest.raises(ExportError, match="encoder crashed"):
        export_video(target, video)
    assert {p.name: p.read_bytes() for p in ([final] if final.is_file() else final.iterdir())} == snapshot
    assert _listing(tmp_path) == [final.name]


def test_disk_full_on_rename(tmp_path, video, monkeypatch):
    target = tmp_path / "r.tif"
    target.write_bytes(b"good old file")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(ExportError, match="disk full") as err:
        export_video(target, video)
    assert str(target) in str(err.value) and "unchanged" in str(err.value)
    assert target.read_bytes() == b"good old file" and _listing(tmp_path) == ["r.tif"]


def test_disk_full_while_writing(tmp_path, monkeypatch):
    real_open = open

    def failing_open(path, mode="r", *args, **kwargs):
        if "w" in mode and ".part" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(ExportError, match="disk full"):
        export_video(tmp_path / "r.npz", np.zeros((2, 4, 4), np.float32))
    assert _listing(tmp_path) == []


def test_unwritable_targets(tmp_path, video):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_video(blocker / "r.mp4", video)
    with pytest.raises(ExportError, match="does not exist"):
        export_video(tmp_path / "missing" / "r.gif", video)
    with pytest.raises(ExportError, match="is a file, not a folder"):
        write_metrics_csv(blocker / "sub" / "m.csv", [])
    (tmp_path / "taken.tif").mkdir()
    with pytest.raises(ExportError, match="taken.tif"):
        export_video(tmp_path / "taken.tif", video)


def test_atomic_path_cleans_up(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("good")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError("boom")
    with pytest.raises(ExportError, match="permission denied"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise PermissionError(errno.EACCES, "Permission denied")
    assert target.read_text() == "good" and _listing(tmp_path) == ["x.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and _listing(tmp_path) == ["x.txt"]


def test_png_replaces_existing_folder(tmp_path, video):
    export_video(tmp_path / "f.png", video)
    export_video(tmp_path / "f.png", video[:1, :2])
    assert _listing(tmp_path / "f") == ["f_000.png", "f_001.png"] and _listing(tmp_path) == ["f"]


def test_metrics_csv(tmp_path):
    trace = [IterationEvent(1, 0, 0, k, 0.5 / k, 20.0 + k if k > 1 else None, None, None, 0.1 * k)
             for k in range(1, 4)]
    out = write_metrics_csv(tmp_path / "m.csv", trace)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["measurement", "k", "residual", "data_residual", "psnr", "ssim", "seconds"]
    assert rows[0]["psnr"] == "" and float(rows[2]["psnr"]) == 23.0 and rows[1]["k"] == "2"


def test_config_yaml(tmp_path):
    config = {"algo": "gap-tv", "settings": {"iterations": np.int64(40), "tv_weight": np.float32(0.3)},
              "measurements": (0, 2), "capture": {"source": tmp_path / "c.mat", "scale": Scale.SIM255}}
    out = save_config_yaml(tmp_path / "job.yaml", config)
    back = yaml.safe_load(out.read_text())
    assert back["settings"]["iterations"] == 40 and back["measurements"] == [0, 2]
    assert back["capture"] == {"source": str(tmp_path / "c.mat"), "scale": "sim255"}


def test_side_by_side(video):
    frames = video.reshape(-1, HH, WW)
    out = side_by_side([frames, np.zeros_like(frames), video], ["truth", "zeros", "recon"])
    assert out.shape == (8, HH, 3 * WW + 2 * 4) and out.dtype == np.float32
    assert np.all(out[:, :, WW : WW + 4] == 1.0)  # separator
    label_region = out[:, :12, WW + 4 : 2 * WW + 4]
    assert label_region.max() == 1.0  # white text drawn on the black panel
    assert np.array_equal(out[:, 20:, :WW], frames[:, 20:])  # below the label: untouched
    with pytest.raises(ExportError, match="same frame count and size"):
        side_by_side([frames, frames[:, :10]], ["a", "b"])
    with pytest.raises(ExportError, match="labels"):
        side_by_side([frames], ["a", "b"])
