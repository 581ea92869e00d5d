"""Batched CACTI simulation for training: random binary masks, measurements, GAP projection.

Shapes: videos and masks (N, B, H, W), measurements (N, H, W); one mask per sample.
"""

from __future__ import annotations

import numpy as np
import torch

from sci_viewer.physics import frame_weights


def random_masks(rng: np.random.Generator, n: int, b: int, h: int, w: int, density: tuple[float, float],
                 translating: float = 0.0) -> torch.Tensor:
    """Binary masks (N, B, H, W), each sample with its own density drawn from ``density`` (low, high).

    A share ``translating`` of the samples get a :func:`translating_mask`; the others an independent
    mask per frame (with ``translating=0`` the draws are those of earlier releases, seed for seed).
    """
    if translating <= 0:
        p = rng.uniform(density[0], density[1], size=(n, 1, 1, 1))
        return torch.from_numpy((rng.random((n, b, h, w)) < p).astype(np.float32))
    masks = []
    for _ in range(n):
        p = rng.uniform(density[0], density[1])
        moving = rng.random() < translating
        masks.append(translating_mask(rng, b, h, w, p) if moving else rng.random((b, h, w)) < p)
    return torch.from_numpy(np.stack(masks).astype(np.float32))


def translating_mask(rng: np.random.Generator, b: int, h: int, w: int, p: float) -> np.ndarray:
    """One random binary mask moved by one pixel per frame, in one of the four directions (B, H, W).

    This is how a CACTI camera codes its frames: a single lithographic mask on a piezo stage
    translates during the exposure, so frame k sees the mask shifted by k pixels (the benchmark
    captures' masks have this form, and a calibrated real mask is close to it)."""
    along_w = bool(rng.integers(2))
    base = rng.random((h, w + b - 1) if along_w else (h + b - 1, w)) < p
    offsets = range(b) if rng.integers(2) else range(b - 1, -1, -1)
    return np.stack([base[:, o : o + w] if along_w else base[o : o + h] for o in offsets])


class BatchCacti:
    """``A``, ``At``, GAP projection for a batch of masks (N, B, H, W)."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask
        s = (mask * mask).sum(1)
        self.phi_sum = torch.where(s > 0, s, torch.ones_like(s))
        self._weights: torch.Tensor | None = None

    def frame_weights(self) -> torch.Tensor:
        """:func:`sci_viewer.physics.frame_weights` of each sample's mask (N, B, H, W), computed once."""
        if self._weights is None:
            self._weights = frame_weights(self.mask, self.phi_sum)
        return self._weights

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return (self.mask * x).sum(1)

    def At(self, r: torch.Tensor) -> torch.Tensor:
        return self.mask * r.unsqueeze(1)

    def initial(self, y: torch.Tensor) -> torch.Tensor:
        return self.At(y / self.phi_sum)

    def project(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return v + self.At((y - self.A(v)) / self.phi_sum)

    def project_error(self, e: torch.Tensor) -> torch.Tensor:
        """The part of an error ``e`` that GAP projection cannot see: ``e - A^T(A e / Phi_sum)``."""
        return e - self.At(self.A(e) / self.phi_sum)
