"""GAP-TV: accelerated GAP projection followed by per-frame Chambolle TV, a fixed number of times."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sci_viewer.algorithms.base import AlgorithmSpec, register_algorithm
from sci_viewer.errors import JobError
from sci_viewer.physics import Cacti
from sci_viewer.tv import tv_denoise


@dataclass
class GapTvSettings:
    """Defaults are the classical reference's (PnP-SCI's GAP-TV: 40 accelerated iterations, TV weight
    0.3, 5 Chambolle iterations), which reproduce its benchmark figures (README)."""

    iterations: int = field(default=40, metadata={"min": 1, "help": "GAP iterations"})
    tv_weight: float = field(default=0.3, metadata={"min": 0, "help": "TV denoising strength"})
    tv_iterations: int = field(default=5, metadata={"min": 1, "help": "Chambolle iterations per TV denoising"})
    accelerate: bool = field(default=True, metadata={"help": "accelerated GAP (running measurement y1)"})
    step: float = field(default=1.0, metadata={"above": 0, "help": "step size of the GAP projection"})


class GapTvSolver:
    def __init__(self, op: Cacti, y: torch.Tensor, settings: GapTvSettings, x0: torch.Tensor | None = None):
        self.op, self.y, self.s = op, y, settings
        self.max_iter = settings.iterations
        # The reference starts from A^T y (not divided by Phi_sum).
        self.x = op.At(y) if x0 is None else x0.clone()
        # Accelerated GAP's running measurement, which the estimate alone does not give: continuing
        # restores it (``restore``). From an estimate without it, it starts at that estimate's own
        # measurement, so the first step is a plain GAP step; a zero start would add the whole
        # measurement again and throw the estimate far off.
        self.y1 = torch.zeros_like(y) if x0 is None else op.A(self.x)

    def step(self) -> tuple[torch.Tensor, float]:
        op, s = self.op, self.s
        yb = op.A(self.x)
        if s.accelerate:
            self.y1 = self.y1 + (self.y - yb)
            r = self.y1 - yb
        else:
            r = self.y - yb
        v = torch.addcmul(self.x, op.mask, op.scaled_residual(r).unsqueeze(-3), value=s.step)  # x + step*A^T(w r/Φ)
        x_new = tv_denoise(v, s.tv_weight, s.tv_iterations)
        residual = float(torch.linalg.vector_norm(x_new - self.x) / torch.linalg.vector_norm(x_new).clamp_min(1e-12))
        self.x = x_new
        return x_new, residual

    def converged(self) -> bool:
        return False

    def state(self) -> dict[str, torch.Tensor]:
        """What continuing needs besides the estimate (see ``engine.Job.warm_state``)."""
        return {"y1": self.y1}

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        if state["y1"].shape != self.y1.shape:
            raise ValueError(f"GAP-TV state of shape {tuple(state['y1'].shape)} for a measurement of {tuple(self.y1.shape)}")
        self.y1 = state["y1"].to(self.y1.dtype).clone()


GAP_TV_START_FIELD = {
    "label": "GAP-TV start", "min": 0,
    "help": "GAP-TV iterations that give the starting point (0: x0 = A^T(y / Phi_sum)); fewer iterations "
            "to tol, though the iterate at a given tol may lie further from the fixed point",
}


def gap_tv_start(op: Cacti, y: torch.Tensor, iterations: int, label: str) -> torch.Tensor:
    """A starting point for another solver: ``x0 = A^T(y / Phi_sum)`` (``iterations == 0``) or GAP-TV's
    estimate (default settings) after ``iterations`` iterations; ``label`` names the solver in errors."""
    if iterations < 0:
        raise JobError(f"{label} gap_tv_start must be 0 or more GAP-TV iterations, got {iterations}.")
    if iterations == 0:
        return op.initial(y)
    gap = GapTvSolver(op, y, GapTvSettings(iterations=iterations))
    for _ in range(iterations):
        x, _ = gap.step()
    return x


SPEC = register_algorithm(
    AlgorithmSpec(
        name="gap-tv",
        label="GAP-TV",
        settings_type=GapTvSettings,
        make_solver=GapTvSolver,
        description="Generalized alternating projection with total-variation denoising (classical baseline).",
    )
)
