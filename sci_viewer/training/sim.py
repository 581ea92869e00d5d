"""Batched CACTI simulation for training: random binary masks, measurements, GAP projection.

Shapes: videos and masks (N, B, H, W), measurements (N, H, W); one mask per sample.
"""

from __future__ import annotations

import numpy as np
import torch


def random_masks(rng: np.random.Generator, n: int, b: int, h: int, w: int, density: tuple[float, float]) -> torch.Tensor:
    """Binary masks, each sample with its own density drawn from ``density`` (low, high)."""
    p = rng.uniform(density[0], density[1], size=(n, 1, 1, 1))
    return torch.from_numpy((rng.random((n, b, h, w)) < p).astype(np.float32))


class BatchCacti:
    """``A``, ``At``, GAP projection for a batch of masks (N, B, H, W)."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask
        s = (mask * mask).sum(1)
        self.phi_sum = torch.where(s > 0, s, torch.ones_like(s))
        self._weights: torch.Tensor | None = None

    def frame_weights(self) -> torch.Tensor:
        """``B * Phi_b^2 / Phi_sum`` (N, B, H, W), as :meth:`sci_viewer.physics.Cacti.frame_weights`."""
        if self._weights is None:
            self._weights = self.mask.shape[1] * self.mask * self.mask / self.phi_sum.unsqueeze(1)
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
