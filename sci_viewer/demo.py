"""Captures synthesised by the project: the built-in demo, and a real-like capture for tests.

Both are deterministic (seeded) and made at run time, so the repository carries no data files.
"""

from __future__ import annotations

import numpy as np

from sci_viewer.capture import Capture, Scale


def _scene(n_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n_frames, size, size) float frames in [0, 1]: textured background, moving shapes."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # Smooth random texture (sum of a few sinusoids) plus a gradient, the "ground".
    texture = np.zeros((size, size), np.float32)
    for _ in range(6):
        fx, fy = rng.uniform(1, 8, 2)
        phase = rng.uniform(0, 2 * np.pi)
        texture += np.sin(2 * np.pi * (fx * xx + fy * yy) + phase).astype(np.float32)
    texture = 0.25 + 0.1 * texture / 6 + 0.2 * yy
    frames = np.empty((n_frames, size, size), np.float32)
    for t in range(n_frames):
        f = texture.copy()
        # A disc moving right, a square moving down-left, a bar rotating.
        cx, cy = 0.2 + 0.02 * t, 0.35
        f[(xx - cx) ** 2 + (yy - cy) ** 2 < 0.09**2] = 0.9
        sx, sy = 0.7 - 0.012 * t, 0.15 + 0.018 * t
        f[(np.abs(xx - sx) < 0.08) & (np.abs(yy - sy) < 0.08)] = 0.55 + 0.3 * (((xx * 40).astype(int) % 2) == 0)[
            (np.abs(xx - sx) < 0.08) & (np.abs(yy - sy) < 0.08)
        ]
        angle = 0.12 * t
        u = (xx - 0.55) * np.cos(angle) + (yy - 0.72) * np.sin(angle)
        v = -(xx - 0.55) * np.sin(angle) + (yy - 0.72) * np.cos(angle)
        f[(np.abs(u) < 0.2) & (np.abs(v) < 0.025)] = 0.05
        frames[t] = f
    return np.clip(frames, 0, 1)


def demo_capture(size: int = 256, n_frames: int = 8, n_meas: int = 2, seed: int = 7) -> Capture:
    """Simulated capture on the benchmark convention: uint8 frames, binary mask, ``meas = Σ mask·frame``."""
    rng = np.random.default_rng(seed)
    video = _scene(n_frames * n_meas, size, rng)
    truth = np.round(video * 255).astype(np.uint8).reshape(n_meas, n_frames, size, size)
    mask = (rng.random((n_frames, size, size)) < 0.5).astype(np.uint8)
    meas = np.einsum("bhw,nbhw->nhw", mask.astype(np.float64), truth.astype(np.float64))
    return Capture(meas, mask, truth, name="demo (synthetic)", source="built-in demo", scale=Scale.SIM255,
                   notes=("Synthesised by sci_viewer.demo: moving shapes over texture, random binary mask.",))


def real_like_capture(size: int = 512, n_frames: int = 10, seed: int = 3, noise: float = 0.01,
                      with_truth: bool = True) -> Capture:
    """A capture shaped like a real CACTI recording: calibrated (non-binary) shifted mask, noise,
    uint16 measurement on the ``real_cr`` scale (``meas / 255 * B / 2`` gives [0, 1] frames)."""
    rng = np.random.default_rng(seed)
    video = _scene(n_frames, size, rng)
    base = np.clip(rng.normal(0.5, 0.25, (size, size + n_frames)), 0, 1).astype(np.float32)
    mask = np.stack([base[:, b : b + size] for b in range(n_frames)])  # translated code, as in hardware
    clean = (mask * video).sum(0)
    noisy = np.clip(clean + rng.normal(0, noise * n_frames / 2, clean.shape), 0, None)
    meas = np.round(noisy * 255 * 2 / n_frames).astype(np.uint16)[None]  # a 12-bit-like sensor
    truth = np.round(video * 255).astype(np.uint8)[None] if with_truth else None
    return Capture(meas, mask, truth, name="real-like (synthetic)", source="synthetic real-like",
                   scale=Scale.REAL_CR, notes=("Synthesised: calibrated grey-level mask, sensor noise.",))
