"""Simulated CACTI captures: the masks and the sensor noise a lab's cameras have.

One place for what training (:mod:`sci_viewer.training.sim`), the generalization benchmark and the
tests synthesise, so that all three mean the same thing by "a grey mask" or "shot noise".

Mask kinds (:data:`MASK_KINDS`), each (B, H, W) float32, non-negative:

- ``iid``: an independent binary pattern per frame, P(1) = density.
- ``translating``: one binary pattern moved one pixel per frame (a lithographic mask on a
  piezo stage, as the benchmark captures and most CACTI cameras have).
- ``grey``: a calibrated grey-level mask: a translating or i.i.d. binary pattern seen through the
  relay optics (a small blur), times a smooth illumination fall-off (vignetting) and a per-pixel
  gain, scaled so its brightest value is 1. Real calibrated masks look like this.
- ``sparse``: i.i.d. binary at a low density (0.1-0.25, drawn when the density is not given).

Noise (:class:`NoiseModel`): Poisson shot noise at ``photons`` photo-electrons for the brightest
noiseless measurement value, plus Gaussian read noise of ``read`` (as a fraction of that value),
after dark-frame subtraction: zero-mean, so measurement pixels can be negative, as real ones are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MASK_KINDS = ("iid", "translating", "grey", "sparse")


def binary_iid(rng: np.random.Generator, b: int, h: int, w: int, density: float) -> np.ndarray:
    """An independent binary pattern per frame, P(1) = ``density``."""
    return (rng.random((b, h, w)) < density).astype(np.float32)


def binary_translating(rng: np.random.Generator, b: int, h: int, w: int, density: float) -> np.ndarray:
    """One random binary pattern moved by one pixel per frame, in one of the four directions."""
    along_w = bool(rng.integers(2))
    base = rng.random((h, w + b - 1) if along_w else (h + b - 1, w)) < density
    offsets = range(b) if rng.integers(2) else range(b - 1, -1, -1)
    return np.stack([base[:, o : o + w] if along_w else base[o : o + h] for o in offsets]).astype(np.float32)


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of each (H, W) frame (edge-replicated)."""
    if sigma <= 0:
        return frames
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    out = frames
    for axis in (-2, -1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        p = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        out = sum(k[i] * np.take(p, range(i, i + n), axis=axis) for i in range(2 * r + 1))
    return out.astype(np.float32)


def grey_mask(rng: np.random.Generator, b: int, h: int, w: int, density: float) -> np.ndarray:
    """A calibrated grey-level mask: blurred binary pattern x illumination fall-off x pixel gain, max 1."""
    pattern = binary_translating(rng, b, h, w, density) if rng.random() < 0.5 else binary_iid(rng, b, h, w, density)
    pattern = _blur(pattern, float(rng.uniform(0.3, 0.9)))
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    cy, cx = rng.uniform(-0.3, 0.3, size=2)
    falloff = 1.0 - float(rng.uniform(0.15, 0.5)) * ((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0
    gain = np.exp(rng.normal(0.0, float(rng.uniform(0.03, 0.12)), size=(h, w)))
    mask = pattern * (falloff * gain)[None].astype(np.float32)
    return (mask / max(float(mask.max()), 1e-6)).astype(np.float32)


def make_mask(rng: np.random.Generator, kind: str, b: int, h: int, w: int, density: float | None = None) -> np.ndarray:
    """A mask (B, H, W) of ``kind`` (one of :data:`MASK_KINDS`); ``density`` P(1) of the binary pattern
    (default: drawn from [0.3, 0.7], or [0.1, 0.25] for ``sparse``)."""
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; known: {', '.join(MASK_KINDS)}")
    if density is None:
        density = float(rng.uniform(0.1, 0.25) if kind == "sparse" else rng.uniform(0.3, 0.7))
    if kind == "translating":
        return binary_translating(rng, b, h, w, density)
    if kind == "grey":
        return grey_mask(rng, b, h, w, density)
    return binary_iid(rng, b, h, w, density)


@dataclass(frozen=True)
class NoiseModel:
    """Sensor noise after dark-frame subtraction.

    ``photons``: photo-electrons at the brightest noiseless measurement value (None: no shot
    noise); ``read``: read-noise standard deviation as a fraction of that value (0: none).
    """

    photons: float | None = None
    read: float = 0.0

    @property
    def noiseless(self) -> bool:
        return self.photons is None and self.read <= 0

    def apply(self, rng: np.random.Generator, y: np.ndarray, full_scale: float | None = None) -> np.ndarray:
        """``y`` (any shape, noiseless, >= 0) with shot and read noise; ``full_scale`` is the value the
        noise levels refer to (default: ``y.max()``). The result is zero-mean around ``y``."""
        if self.noiseless:
            return y.astype(np.float32, copy=True)
        ref = float(full_scale if full_scale is not None else y.max())
        ref = max(ref, 1e-12)
        out = y.astype(np.float64)
        if self.photons is not None:
            gain = self.photons / ref  # electrons per unit of y
            out = rng.poisson(np.clip(out, 0, None) * gain) / gain
        if self.read > 0:
            out = out + rng.normal(0.0, self.read * ref, size=y.shape)
        return out.astype(np.float32)

    def sigma(self, y: np.ndarray, full_scale: float | None = None) -> float:
        """The noise's RMS standard deviation over ``y`` (in y's units): sqrt(mean(y)/gain + read^2)."""
        ref = max(float(full_scale if full_scale is not None else y.max()), 1e-12)
        var = (self.read * ref) ** 2
        if self.photons is not None:
            var += float(np.clip(y, 0, None).mean()) * ref / self.photons
        return float(np.sqrt(var))


def simulate(rng: np.random.Generator, frames: np.ndarray, mask: np.ndarray, noise: NoiseModel | None = None,
             full_scale: float | None = None) -> np.ndarray:
    """Measurements (N, H, W) of ``frames`` (N, B, H, W) coded by ``mask`` (B, H, W), with ``noise``."""
    y = (frames * mask[None]).sum(1)
    return (noise or NoiseModel()).apply(rng, y, full_scale)
