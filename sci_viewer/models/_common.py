"""Shared helpers for denoisers: video folding, padding, the temporal shift, sigma handling."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fold(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """(N, B, H, W) -> (N*B, 1, H, W); returns the folded tensor, N and B."""
    if x.ndim != 4:
        raise ValueError(f"denoisers take a (N, B, H, W) video, got shape {tuple(x.shape)}")
    n, b, h, w = x.shape
    return x.reshape(n * b, 1, h, w), n, b


def unfold(x: torch.Tensor, n: int, b: int) -> torch.Tensor:
    """(N*B, 1, H, W) -> (N, B, H, W)."""
    return x.reshape(n, b, x.shape[-2], x.shape[-1])


def pad_to_multiple(x: torch.Tensor, m: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the last two dims up to a multiple of ``m``; returns the padded tensor and (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def temporal_shift(f: torch.Tensor, n: int, b: int, fraction: int = 4) -> torch.Tensor:
    """Temporal shift (no FLOPs): 1/fraction of the channels from frame t-1, 1/fraction from t+1.

    ``f`` is (N*B, C, H, W) with frames of one video consecutive. Any B works (edges get zeros).
    """
    if b == 1:
        return f
    nb, c, h, w = f.shape
    k = max(1, c // fraction)
    v = f.reshape(n, b, c, h, w)
    out = torch.empty_like(v)
    out[:, 1:, :k] = v[:, :-1, :k]
    out[:, :1, :k] = 0
    out[:, :-1, k : 2 * k] = v[:, 1:, k : 2 * k]
    out[:, -1:, k : 2 * k] = 0
    out[:, :, 2 * k :] = v[:, :, 2 * k :]
    return out.reshape(nb, c, h, w)


def sigma_tensor(sigma: float | torch.Tensor | None, n: int, ref: torch.Tensor, default: float) -> torch.Tensor:
    """The noise level as an (N,) tensor on ``ref``'s device/dtype (``None`` -> ``default``)."""
    if sigma is None:
        sigma = default
    s = torch.as_tensor(sigma, dtype=ref.dtype, device=ref.device)
    if s.ndim == 0:
        s = s.expand(n)
    return s.reshape(n)
