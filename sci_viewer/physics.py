"""The CACTI forward model and the GAP projection, in torch (CPU or CUDA).

Shapes: a video estimate ``x`` is (..., B, H, W), a measurement ``y`` is (..., H, W), the mask
``Phi`` is (B, H, W). ``A x = sum_b Phi_b x_b`` and ``A^T r = Phi * r``.
"""

from __future__ import annotations

import torch


def frame_weights(mask: torch.Tensor, phi_sum: torch.Tensor) -> torch.Tensor:
    """``B * Phi_b^2 / Phi_sum`` for masks (..., B, H, W) and their (..., H, W) sums (0 sums already 1):
    each frame's share of GAP's correction at each pixel, times B (mean 1, 0 where a frame is dark).
    What a mask-aware denoiser is given; unchanged when the mask is scaled."""
    return mask.shape[-3] * mask * mask / phi_sum.unsqueeze(-3)


class Cacti:
    """Forward operator of one mask, with the GAP projection built on it."""

    def __init__(self, mask: torch.Tensor) -> None:
        if mask.ndim != 3:
            raise ValueError(f"mask must be (B, H, W), got {tuple(mask.shape)}")
        self.mask = mask
        phi_sum = (mask * mask).sum(0)
        # Pixels no frame exposed carry no information: divide by 1 there (the estimate keeps A^T r = 0).
        self.phi_sum = torch.where(phi_sum > 0, phi_sum, torch.ones_like(phi_sum))
        self._exposed = phi_sum > 0
        self._weights: torch.Tensor | None = None

    @property
    def zero_exposure(self) -> int:
        """Number of pixels no frame exposed (computed on demand: it syncs the device)."""
        return int((~self._exposed).sum())

    @property
    def n_frames(self) -> int:
        return int(self.mask.shape[0])

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return (self.mask * x).sum(-3)

    def At(self, r: torch.Tensor) -> torch.Tensor:
        return self.mask * r.unsqueeze(-3)

    def frame_weights(self) -> torch.Tensor:
        """:func:`frame_weights` of this mask (B, H, W), computed once."""
        if self._weights is None:
            self._weights = frame_weights(self.mask, self.phi_sum)
        return self._weights

    def initial(self, y: torch.Tensor) -> torch.Tensor:
        """``x0 = A^T(y / Phi_sum)``: the least-norm solution of ``A x = y``."""
        return self.At(y / self.phi_sum)

    def project(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """GAP projection of ``v`` onto ``{x : A x = y}``: ``v + A^T((y - A v) / Phi_sum)``."""
        return v + self.At((y - self.A(v)) / self.phi_sum)
