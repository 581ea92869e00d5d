"""Isotropic total-variation denoising (Chambolle's projection algorithm), frame by frame.

Follows the dual iteration of Chambolle (2004) as used by the classical GAP-TV reference
(scikit-image's ``denoise_tv_chambolle`` per frame): fixed inner iteration count, step 1/4.
All work happens in six preallocated buffers: on the CPU the iteration is memory-bound, and
fresh multi-megabyte temporaries (page faults, zeroing) would cost more than the arithmetic.
"""

from __future__ import annotations

import torch


def tv_denoise(image: torch.Tensor, weight: float, n_iter: int = 5) -> torch.Tensor:
    """Denoise each 2-D frame of ``image`` (..., H, W) with TV weight ``weight``."""
    if n_iter < 1:
        return image
    tau = 0.25  # 1 / (2 * ndim) for 2-D frames
    px, py, gx, gy, norm = (torch.zeros_like(image) for _ in range(5))
    out = image.clone()
    for i in range(n_iter):
        if i > 0:  # out = image + div(p), div the negative adjoint of the forward difference
            torch.sub(image, px, out=out)
            out.sub_(py)
            out[..., 1:, :].add_(px[..., :-1, :])
            out[..., :, 1:].add_(py[..., :, :-1])
        if i == n_iter - 1:
            break  # the dual update after the last primal step would not change the output
        torch.sub(out[..., 1:, :], out[..., :-1, :], out=gx[..., :-1, :])
        torch.sub(out[..., :, 1:], out[..., :, :-1], out=gy[..., :, :-1])
        torch.mul(gx, gx, out=norm)
        norm.addcmul_(gy, gy).sqrt_().mul_(tau / weight).add_(1.0)
        px.sub_(gx, alpha=tau).div_(norm)
        py.sub_(gy, alpha=tau).div_(norm)
    return out
