"""Fixed-point solvers: plain iteration, Anderson acceleration, and deep-equilibrium layers.

- :func:`anderson` / :class:`AndersonIterator` (:mod:`.anderson`),
- :func:`fixed_point_iteration` / :class:`FixedPointIterator` (:mod:`.fixed_point`),
- :class:`DEQFixedPoint` with implicit, Neumann or Jacobian-free backward (:mod:`.implicit`).

All work on batched tensors (N, ...) and stop on the per-sample relative residual
``||f(x) - x|| / ||f(x)||``.
"""

from sci_viewer.solvers.anderson import AndersonIterator, AndersonSettings, anderson
from sci_viewer.solvers.fixed_point import (
    FixedPointIterator,
    FixedPointSettings,
    SolverInfo,
    fixed_point_iteration,
    relative_residual,
)
from sci_viewer.solvers.implicit import DEQConfig, DEQFixedPoint

__all__ = [
    "AndersonIterator",
    "AndersonSettings",
    "DEQConfig",
    "DEQFixedPoint",
    "FixedPointIterator",
    "FixedPointSettings",
    "SolverInfo",
    "anderson",
    "fixed_point_iteration",
    "relative_residual",
]
