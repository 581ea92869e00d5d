"""Losses and the PSNR used for validation (frames on [0, 1], data range 1, per frame then mean)."""

from __future__ import annotations

import torch


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean((x - y) ** 2)


def psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean per-frame PSNR in dB of ``x`` against ``ref`` (any leading dims, frames last two)."""
    err = ((x.clamp(0, 1) - ref) ** 2).flatten(-2).mean(-1).clamp_min(1e-12)
    return float((10 * torch.log10(1.0 / err)).mean())


def fixed_point_residual(fz: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ``||f(z) - z||^2 / ||f(z)||^2``."""
    num = (fz - z).flatten(1).pow(2).sum(1)
    den = fz.flatten(1).pow(2).sum(1).clamp_min(1e-8)
    return (num / den).mean()


def jacobian_penalty(f, z: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 (a map tensor -> tensor)
    """Hutchinson estimate of ``||J_f(z)||_F^2 / dim`` from one random probe ``v``: ``||v^T J_f(z)||^2 / dim``.

    Penalising it pushes the map towards a contraction around its fixed point (Jacobian
    regularisation of deep equilibrium models), so the solver converges in fewer iterations and a
    residual tolerance lands closer to the true fixed point. Differentiable in the map's parameters.
    """
    z = z.detach().requires_grad_(True)
    fz = f(z)
    v = torch.randn_like(fz)
    (vjp,) = torch.autograd.grad(fz, z, v, create_graph=True)
    return vjp.pow(2).sum() / v.numel()
