"""PSNR and SSIM as video-SCI papers compute them: frames in [0, 1], per frame, then averaged."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _as_tensor(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a, dtype=np.float32))


def psnr_per_frame(estimate: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> np.ndarray:
    """PSNR in dB of each frame (..., H, W) with data range 1."""
    x, t = _as_tensor(estimate).double(), _as_tensor(truth).to(_as_tensor(estimate).device).double()
    mse = ((x - t) ** 2).flatten(-2).mean(-1)
    out = torch.where(mse > 0, 10 * torch.log10(1.0 / mse.clamp_min(1e-300)), torch.full_like(mse, math.inf))
    return out.cpu().numpy().reshape(-1)


def psnr(estimate: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> float:
    """Mean of the per-frame PSNR (dB), frames on [0, 1]."""
    return float(np.mean(psnr_per_frame(estimate, truth)))


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g


def ssim_per_frame(estimate: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> np.ndarray:
    """SSIM of each frame (..., H, W), data range 1, Gaussian window 11/1.5 (Wang et al. 2004).

    Matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1)``: statistics over 'valid' windows only.
    """
    x = _as_tensor(estimate).double()
    t = _as_tensor(truth).to(x.device).double()
    h, w = x.shape[-2:]
    x = x.reshape(-1, 1, h, w)
    t = t.reshape(-1, 1, h, w)
    g = _gaussian_window(device=x.device)
    gx, gy = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(z, gx), gy)

    c1, c2 = (0.01) ** 2, (0.03) ** 2
    mu_x, mu_t = blur(x), blur(t)
    sxx = blur(x * x) - mu_x * mu_x
    stt = blur(t * t) - mu_t * mu_t
    sxt = blur(x * t) - mu_x * mu_t
    num = (2 * mu_x * mu_t + c1) * (2 * sxt + c2)
    den = (mu_x**2 + mu_t**2 + c1) * (sxx + stt + c2)
    s = (num / den)
    return s.flatten(1).mean(1).cpu().numpy()


def ssim(estimate: np.ndarray | torch.Tensor, truth: np.ndarray | torch.Tensor) -> float:
    """Mean of the per-frame SSIM, frames on [0, 1]."""
    return float(np.mean(ssim_per_frame(estimate, truth)))


def data_residual(y: np.ndarray | torch.Tensor, ax: np.ndarray | torch.Tensor) -> float:
    """Relative measurement residual ``||y - A x|| / ||y||``: how much of the measurement the
    estimate still disagrees with. Needs no ground truth (real captures); ``ax`` is ``A x``.
    0 when y is all zero and so is ``A x`` (inf when only y is)."""
    y_t, ax_t = _as_tensor(y), _as_tensor(ax)
    num = float(torch.linalg.vector_norm((y_t - ax_t).double()))
    den = float(torch.linalg.vector_norm(y_t.double()))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den
