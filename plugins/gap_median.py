"""Example plugin: GAP with a per-frame 3x3 median filter as the denoiser ("gap-median").

Robust to impulse (hot-pixel) noise; weaker than GAP-TV on clean data. See plugins/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sci_viewer.algorithms import AlgorithmSpec, register_algorithm


@dataclass
class GapMedianSettings:
    iterations: int = 30


def median3x3(x: torch.Tensor) -> torch.Tensor:
    """Median of each pixel's 3x3 neighbourhood, frame by frame (edges replicated)."""
    shape = x.shape
    flat = F.pad(x.reshape(-1, 1, *shape[-2:]), (1, 1, 1, 1), mode="replicate")
    patches = F.unfold(flat, 3)  # (n, 9, H*W)
    return patches.median(dim=1).values.reshape(shape)


class GapMedianSolver:
    def __init__(self, op, y, settings: GapMedianSettings, x0=None):
        self.op, self.y = op, y
        self.max_iter = settings.iterations
        self.x = op.initial(y) if x0 is None else x0

    def step(self):
        x_new = median3x3(self.op.project(self.x, self.y))
        residual = float(torch.linalg.vector_norm(x_new - self.x) / torch.linalg.vector_norm(x_new).clamp_min(1e-12))
        self.x = x_new
        return x_new, residual

    def converged(self) -> bool:
        return False


register_algorithm(AlgorithmSpec("gap-median", "GAP-median (plugin)", GapMedianSettings, GapMedianSolver,
                                 "GAP projection with a 3x3 median filter per frame (example plugin)."))
