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
    """Forward operator of one mask, with the GAP projection built on it.

    ``valid`` (optional, (..., H, W) broadcasting against the measurement): a per-pixel weight ``w``
    of the data term, 0 at saturated pixels and 1 elsewhere. GAP's correction becomes
    ``A^T(w (y - A v) / Phi_sum)``. Because ``A`` acts pixel by pixel, this is still the exact
    projection, now onto ``{x : (A x)_p = y_p at every valid pixel p}``: a saturated pixel's clipped
    value (a lower bound of what the frames summed to there, not a measurement of it) neither pulls
    the estimate down to the clip level nor constrains it at all; the denoiser or prior fills that
    pixel in from its neighbours. The start ``x0 = A^T(y / Phi_sum)`` keeps the clipped value, the
    best guess the data offers there. Every algorithm honours ``w`` through :meth:`scaled_residual`
    and :meth:`project`; without ``valid`` their arithmetic is exactly what it was before.
    """

    def __init__(self, mask: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        if mask.ndim != 3:
            raise ValueError(f"mask must be (B, H, W), got {tuple(mask.shape)}")
        if valid is not None and tuple(valid.shape[-2:]) != tuple(mask.shape[-2:]):
            raise ValueError(f"valid must be (..., H, W) = (..., {mask.shape[1]}, {mask.shape[2]}), "
                             f"got {tuple(valid.shape)}")
        self.mask = mask
        self.valid = valid
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

    def scaled_residual(self, r: torch.Tensor, rho: float | torch.Tensor = 0.0) -> torch.Tensor:
        """``w r / (Phi_sum + rho)`` for a measurement-space residual ``r``: what ``A^T`` turns into GAP's
        correction (0 at saturated pixels; ``r / Phi_sum`` exactly without ``valid`` and ``rho``).
        ``rho`` > 0 relaxes the step for a noisy measurement (see :meth:`project`)."""
        r = r / (self.phi_sum + rho)
        return r if self.valid is None else r * self.valid

    def counted(self, t: torch.Tensor) -> torch.Tensor:
        """A measurement-space ``t`` (``y``, ``A x``) at the pixels the data term counts (0 where saturated),
        e.g. for the data residual ``||w (y - A x)|| / ||w y||``; ``t`` itself without ``valid``."""
        return t if self.valid is None else t * self.valid

    def project(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor = 0.0) -> torch.Tensor:
        """GAP projection of ``v`` onto ``{x : A x = y}`` (at the valid pixels):
        ``v + A^T(w (y - A v) / Phi_sum)``.

        With ``rho`` > 0 (a float, or a tensor broadcasting against ``y``'s leading dimensions, e.g.
        (N, 1, 1)) the relaxed data step ``v + A^T(w (y - A v) / (Phi_sum + rho))``: the minimiser of
        ``||y - A x||^2 / sigma_y^2 + ||x - v||^2 / sigma_v^2`` for ``rho = (sigma_y / sigma_v)^2``
        (exact, because ``A A^T = diag(Phi_sum)``), which weighs a noisy measurement against an
        estimate ``v`` of error ``sigma_v`` instead of copying its noise into every frame
        (:func:`sci_viewer.noise.relaxation`)."""
        return v + self.At(self.scaled_residual(y - self.A(v), rho))
