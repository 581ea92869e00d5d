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
