"""Captures synthesised from the held-out DAVIS scenes, for the generalization benchmark.

A configuration (:class:`SimConfig`) names a held-out scene, a square crop size, B, a mask kind
(:data:`sci_viewer.simulation.MASK_KINDS`) and a noise level (:data:`NOISE_LEVELS`). Its capture is
made the way a lab's camera makes one, with :mod:`sci_viewer.simulation`: B consecutive frames of
the scene (centre crop, luma on [0, 1]) coded by the mask and summed, then shot and read noise
after dark subtraction (so measurement pixels can be negative). It is an ordinary
:class:`~sci_viewer.capture.Capture` on the ``unit`` scale with its ground truth, which the engine
runs exactly as a user's file. Everything is seeded by the configuration, so a capture is the
same in every run.

The scenes are the training configurations' validation scenes (``data.val_scenes``): never
trained on, and not the benchmark scenes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from sci_viewer.capture import Capture, Scale
from sci_viewer.errors import JobError
from sci_viewer.simulation import MASK_KINDS, NoiseModel, make_mask, simulate

#: the held-out DAVIS scenes (validation only in every training configuration)
HELD_OUT_SCENES = ("bmx-trees", "car-shadow", "kite-surf")

#: noise after dark subtraction: photons at the brightest noiseless value, read noise (fraction of it)
NOISE_LEVELS: dict[str, NoiseModel] = {
    "none": NoiseModel(),
    "moderate": NoiseModel(photons=2000.0, read=0.005),
    "strong": NoiseModel(photons=200.0, read=0.02),
}


@dataclass(frozen=True)
class SimConfig:
    """One simulated capture: ``scene``, crop ``size`` (square), ``frames`` (B), mask ``kind``, ``noise``
    (a key of :data:`NOISE_LEVELS`), and ``measurements`` consecutive B-frame blocks."""

    scene: str
    size: int
    frames: int
    kind: str
    noise: str
    measurements: int = 1

    def __post_init__(self) -> None:
        if self.kind not in MASK_KINDS:
            raise JobError(f"Unknown mask kind '{self.kind}'; known: {', '.join(MASK_KINDS)}.")
        if self.noise not in NOISE_LEVELS:
            raise JobError(f"Unknown noise level '{self.noise}'; known: {', '.join(NOISE_LEVELS)}.")
        if self.scene not in HELD_OUT_SCENES:
            raise JobError(f"'{self.scene}' is not a held-out scene; the held-out scenes are "
                           f"{', '.join(HELD_OUT_SCENES)}.")

    @property
    def label(self) -> str:
        return f"{self.scene} {self.size}px B={self.frames} {self.kind} {self.noise}"

    @property
    def seed(self) -> int:
        """A seed of the configuration alone (stable across runs and Python versions)."""
        return zlib.crc32(f"{self.scene}|{self.size}|{self.frames}|{self.kind}|{self.noise}".encode())


def scene_frames(scene: str) -> np.ndarray:
    """The held-out ``scene``'s frames (T, H, W), uint8 luma (decoded once per process)."""
    from sci_viewer.training.data import default_root, load_scene

    folder = default_root() / scene
    if not folder.is_dir():
        raise JobError(f"The held-out scene folder '{folder}' does not exist; set SCI_DATA_DIR to the shared data.")
    return load_scene(str(folder))


def crop(video: np.ndarray, size: int, frames: int, measurements: int) -> np.ndarray:
    """``measurements`` consecutive blocks of ``frames`` frames, centre ``size`` x ``size`` crop,
    as float32 (N, B, size, size) on [0, 1]; the blocks start in the middle of the clip."""
    t, h, w = video.shape
    need = frames * measurements
    if size > min(h, w) or need > t:
        raise JobError(f"{measurements} x {frames} frames of {size}x{size} do not fit a scene of {t}x{h}x{w}.")
    t0, y0, x0 = (t - need) // 2, (h - size) // 2, (w - size) // 2
    clip = video[t0 : t0 + need, y0 : y0 + size, x0 : x0 + size].astype(np.float32) / 255.0
    return clip.reshape(measurements, frames, size, size)


def make_capture(config: SimConfig, video: np.ndarray | None = None) -> Capture:
    """The capture of ``config`` (frames of ``video`` (T, H, W) uint8 when given, else the scene's)."""
    video = scene_frames(config.scene) if video is None else video
    truth = crop(video, config.size, config.frames, config.measurements)
    rng = np.random.default_rng(config.seed)
    mask = make_mask(rng, config.kind, config.frames, config.size, config.size)
    meas = simulate(rng, truth, mask, NOISE_LEVELS[config.noise])
    return Capture(meas, mask, truth, name=config.label, source="simulated from held-out DAVIS",
                   scale=Scale.UNIT,
                   notes=(f"Synthesised by sci_viewer.benchmarks: {config.kind} mask, noise {config.noise} "
                          f"({NOISE_LEVELS[config.noise]}).",))
