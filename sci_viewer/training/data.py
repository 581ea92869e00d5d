"""Training videos: DAVIS JPEG frames decoded once to grayscale (uint8, in memory), random crops.

A sample is ``B`` frames (temporal stride 1-2) of one scene, cropped at a random place and scale,
randomly flipped / rotated by 90 degrees, as floats on [0, 1].
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from sci_viewer.errors import JobError
from sci_viewer.settings import data_dir

BENCHMARK_SCENES = ("kobe", "traffic", "runner", "drop", "crash", "vehicle", "aerial")


def default_root() -> Path:
    return data_dir() / "train" / "davis2016_val"


def scene_names(root: Path) -> list[str]:
    if not root.is_dir():
        raise JobError(f"Training frames folder '{root}' does not exist (set SCI_DATA_DIR).")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.jpg")))


@lru_cache(maxsize=64)
def load_scene(folder: str) -> np.ndarray:
    """All frames of one scene as a (T, H, W) uint8 luma array (decoded once per process)."""
    files = sorted(Path(folder).glob("*.jpg"))
    if not files:
        raise JobError(f"No JPEG frames in '{folder}'.")
    frames = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]  # OpenCV uses BT.601 luma
    return np.stack(frames)


def split_scenes(root: Path, val_scenes: list[str], train_scenes: list[str]) -> tuple[list[str], list[str]]:
    """(train, val) scene lists; held-out and benchmark scenes never enter training."""
    available = scene_names(root)
    missing = [s for s in list(val_scenes) + list(train_scenes) if s not in available]
    if missing:
        raise JobError(f"Scene(s) {', '.join(missing)} not found in '{root}'.")
    train = [s for s in (train_scenes or available) if s not in val_scenes]
    train = [s for s in train if not any(b in s.lower() for b in BENCHMARK_SCENES)]
    if not train:
        raise JobError("No training scenes left after holding out the validation scenes.")
    return train, list(val_scenes)


class VideoSampler:
    """Random video crops from a list of scenes, driven by a seeded numpy Generator."""

    def __init__(self, root: Path, scenes: list[str], strides: list[int], scales: list[int]) -> None:
        self.videos = [load_scene(str(root / s)) for s in scenes]
        self.scenes = list(scenes)
        self.strides = list(strides)
        self.scales = list(scales)

    def sample(self, rng: np.random.Generator, n: int, b: int, crop: int) -> torch.Tensor:
        """``n`` videos of ``b`` frames, ``crop`` x ``crop`` pixels: a float tensor (n, b, crop, crop)."""
        out = np.empty((n, b, crop, crop), dtype=np.float32)
        for i in range(n):
            out[i] = self._one(rng, b, crop)
        return torch.from_numpy(out)

    def _one(self, rng: np.random.Generator, b: int, crop: int) -> np.ndarray:
        for _ in range(100):
            v = self.videos[rng.integers(len(self.videos))]
            stride = int(rng.choice(self.strides))
            scale = int(rng.choice(self.scales))
            t, h, w = v.shape
            span, size = (b - 1) * stride + 1, crop * scale
            if span <= t and size <= h and size <= w:
                break
        else:
            raise JobError(f"No training scene holds {b} frames of {crop} px at the configured strides/scales.")
        t0, y0, x0 = rng.integers(t - span + 1), rng.integers(h - size + 1), rng.integers(w - size + 1)
        clip = v[t0 : t0 + span : stride, y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255.0
        if scale > 1:
            clip = clip.reshape(b, crop, scale, crop, scale).mean(axis=(2, 4))
        if rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        if rng.random() < 0.5:
            clip = clip[::-1]  # time reversal is as plausible as forward motion
        clip = np.rot90(clip, k=int(rng.integers(4)), axes=(1, 2))
        return np.ascontiguousarray(clip)


def validation_set(root: Path, scenes: list[str], size: int, frames: int, per_scene: int, seed: int = 1234) -> torch.Tensor:
    """Fixed full-resolution crops of the held-out scenes: (len(scenes)*per_scene, frames, size, size)."""
    rng = np.random.default_rng(seed)
    clips = []
    for s in scenes:
        v = load_scene(str(root / s))
        t, h, w = v.shape
        if size > min(h, w) or frames > t:
            raise JobError(f"Validation crops of {frames}x{size}x{size} do not fit scene '{s}' ({t}x{h}x{w}).")
        for k in range(per_scene):
            t0 = (t - frames) * (k + 1) // (per_scene + 1)
            y0, x0 = (h - size) // 2, int(rng.integers(w - size + 1))
            clips.append(v[t0 : t0 + frames, y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255.0)
    return torch.from_numpy(np.stack(clips))
