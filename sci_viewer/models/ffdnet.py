"""An FFDNet-style noise-level-conditioned denoiser.

Each frame is split into four half-resolution sub-images (space-to-depth), a constant noise-level
map is appended, a plain conv/ReLU stack runs at half resolution, and depth-to-space restores the
frame. The stack predicts a correction added to the input (``residual = True``). ``sigma`` (float
or (N,) tensor on the 0..1 scale) selects the strength; ``None`` means ``default_sigma``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sci_viewer.models._common import fold, pad_to_multiple, sigma_tensor, unfold


class FFDNet(nn.Module):
    residual = True

    def __init__(self, features: int = 48, depth: int = 10, default_sigma: float = 10 / 255) -> None:
        super().__init__()
        self.default_sigma = default_sigma
        layers: list[nn.Module] = [nn.Conv2d(5, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
        tail = nn.Conv2d(features, 4, 3, padding=1)
        nn.init.zeros_(tail.weight)
        nn.init.zeros_(tail.bias)
        layers.append(tail)
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        z, n, b = fold(x)
        zp, (h, w) = pad_to_multiple(z, 2)
        sub = F.pixel_unshuffle(zp, 2)
        s = sigma_tensor(sigma, n, zp, self.default_sigma).repeat_interleave(b)
        smap = s.view(-1, 1, 1, 1).expand(-1, 1, *sub.shape[-2:])
        out = zp + F.pixel_shuffle(self.body(torch.cat([sub, smap], 1)), 2)
        return unfold(out[..., :h, :w], n, b)
