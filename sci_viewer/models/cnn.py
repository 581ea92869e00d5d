"""The seed paper's simple CNN denoiser and its spectrally normalised (RSN) variant.

Four 3x3 convolutions 1 -> 64 -> 64 -> 64 -> 1 without bias, ReLU between, applied to each frame;
the network predicts the noise and returns ``x - body(x)`` (``residual = True``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from sci_viewer.models._common import fold, unfold


class SimpleCNN(nn.Module):
    """``net(x, sigma=None)``: x (N, B, H, W) on [0, 1] -> denoised (N, B, H, W); sigma is ignored.

    Args:
        features: hidden channels (the paper: 64).
        depth: number of conv layers (the paper: 4).
        spectral: spectrally normalise every conv (the RSN variant, for a contractive body).
    """

    residual = True

    def __init__(self, features: int = 64, depth: int = 4, spectral: bool = False) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("depth must be at least 2")
        chans = [1] + [features] * (depth - 1) + [1]
        layers: list[nn.Module] = []
        for i in range(depth):
            conv: nn.Module = nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False)
            if spectral:
                conv = spectral_norm(conv)
            layers.append(conv)
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        z, n, b = fold(x)
        return unfold(z - self.body(z), n, b)


class RSNCNN(SimpleCNN):
    """:class:`SimpleCNN` with spectral normalisation on every layer (the paper's RSN-CNN)."""

    def __init__(self, features: int = 64, depth: int = 4) -> None:
        super().__init__(features=features, depth=depth, spectral=True)
