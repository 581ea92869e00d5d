"""Isotropic total-variation denoising (Chambolle's projection algorithm), frame by frame.

Follows the dual iteration of Chambolle (2004) as used by the classical GAP-TV reference
(scikit-image's ``denoise_tv_chambolle`` per frame): fixed inner iteration count, step 1/4.
"""

from __future__ import annotations

import torch


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Negative adjoint of the forward difference (p is zero on the last row/column)."""
    d = -(px + py)
    d[..., 1:, :] += px[..., :-1, :]
    d[..., :, 1:] += py[..., :, :-1]
    return d


def tv_denoise(image: torch.Tensor, weight: float, n_iter: int = 5) -> torch.Tensor:
    """Denoise each 2-D frame of ``image`` (..., H, W) with TV weight ``weight``."""
    if n_iter < 1:
        return image
    tau = 0.25  # 1 / (2 * ndim) for 2-D frames
    px = torch.zeros_like(image)
    py = torch.zeros_like(image)
    gx = torch.zeros_like(image)
    gy = torch.zeros_like(image)
    out = image
    for i in range(n_iter):
        if i > 0:
            out = image + _divergence(px, py)
        torch.sub(out[..., 1:, :], out[..., :-1, :], out=gx[..., :-1, :])
        torch.sub(out[..., :, 1:], out[..., :, :-1], out=gy[..., :, :-1])
        norm = torch.sqrt(gx * gx + gy * gy).mul_(tau / weight).add_(1.0)
        px.sub_(gx, alpha=tau).div_(norm)
        py.sub_(gy, alpha=tau).div_(norm)
    return out
