"""A minimal plugin package for sci_viewer: registers the algorithm ``gap-blur`` (GAP projection
followed by a 3x3 box blur of each frame) through the entry point group ``sci_viewer.plugins``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class GapBlurSettings:
    iterations: int = 20


class GapBlurSolver:
    def __init__(self, op, y, settings: GapBlurSettings, x0=None):
        self.op, self.y, self.max_iter = op, y, settings.iterations
        self.x = op.initial(y) if x0 is None else x0

    def step(self) -> tuple[torch.Tensor, float]:
        v = self.op.project(self.x, self.y)  # (B, H, W)
        new = F.avg_pool2d(v.unsqueeze(1), 3, stride=1, padding=1, count_include_pad=False).squeeze(1)
        residual = float((new - self.x).norm() / new.norm().clamp_min(1e-12))
        self.x = new
        return new, residual

    def converged(self) -> bool:
        return False


def register() -> None:
    """Called once by sci_viewer (the entry point's target)."""
    from sci_viewer.algorithms import AlgorithmSpec, register_algorithm

    register_algorithm(AlgorithmSpec("gap-blur", "GAP + blur (example package)", GapBlurSettings, GapBlurSolver,
                                     "GAP projection and a 3x3 box blur per frame"))
