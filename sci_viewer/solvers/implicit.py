"""Deep-equilibrium layers: solve ``z* = f(z*)`` without a graph, differentiate implicitly.

Interface
---------
``DEQFixedPoint(config)(f, x0) -> (z, info)``; ``layer.attach(f, z_star) -> z`` makes the
differentiable part alone, for a fixed point the caller solved itself (with :func:`solve`).

- ``f``: the fixed-point map, a callable on (N, ...) tensors that closes over its data (for
  DE-GAP: ``lambda x: net(op.project(x, y))``) and whose parameters require gradients.
- ``x0``: the starting point (N, ...); no gradient flows into it.
- Forward: the solver (Anderson, or plain iteration with ``config.anderson = None``) runs under
  ``torch.no_grad()`` to ``config.tol`` / ``config.max_iter``; then **one** differentiable
  application ``z = f(z*)`` is made (plus one for the Jacobian products, see below), so the
  autograd graph does not grow with the number of forward iterations, nor does memory.
- ``info``: the forward :class:`~sci_viewer.solvers.fixed_point.SolverInfo`;
  ``layer.backward_info`` holds the backward solve's after ``loss.backward()`` (``mode="implicit"``).
- When grad mode is off (evaluation), ``z`` is the solver's output and no extra ``f`` is applied.

Backward modes (``config.backward``), with ``J = df/dz`` at ``z*`` and ``g = dL/dz``:

- ``"jfb"``: Jacobian-free / phantom gradient: the gradient of that one application of ``f``
  only, i.e. ``J`` is taken as 0. Cheapest; a descent direction when ``f`` is contractive.
- ``"neumann"``: ``a = sum_{i=0..k} (J^T)^i g`` with ``k = config.neumann_terms``, then
  backpropagated through ``f``: a truncation of the exact implicit gradient.
- ``"implicit"``: solve ``a = J^T a + g`` with the same Anderson solver (``config.backward_tol``,
  ``config.backward_max_iter``) and backpropagate ``a`` through ``f``: the exact gradient
  ``dL/dtheta = a^T df/dtheta`` of the equilibrium, to the solver's tolerance.

The Neumann and implicit modes rewrite ``dL/dz`` in a hook on ``z``; the vector-Jacobian
products ``J^T v`` use a second application ``f(z_in)`` (``z_in`` a copy of ``z*`` requiring
grad) whose graph is kept for the backward (``retain_graph``): two applications of ``f`` in the
graph, still independent of the iteration count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from sci_viewer.solvers.anderson import AndersonSettings, anderson
from sci_viewer.solvers.fixed_point import FixedPointMap, SolverInfo, fixed_point_iteration

BackwardMode = Literal["jfb", "neumann", "implicit"]


@dataclass
class DEQConfig:
    """Forward and backward solver settings of a :class:`DEQFixedPoint`."""

    tol: float = 1e-4
    max_iter: int = 50
    anderson: AndersonSettings | None = field(default_factory=AndersonSettings)  # None: plain iteration
    beta: float = 1.0  # damping of plain iteration (Anderson has its own)
    backward: BackwardMode = "jfb"
    neumann_terms: int = 5
    backward_tol: float = 1e-4
    backward_max_iter: int = 50

    def __post_init__(self) -> None:
        if self.backward not in ("jfb", "neumann", "implicit"):
            raise ValueError(f"backward must be 'jfb', 'neumann' or 'implicit', got {self.backward!r}")


def solve(f: FixedPointMap, x0: torch.Tensor, config: DEQConfig, *, tol: float | None = None,
          max_iter: int | None = None) -> tuple[torch.Tensor, SolverInfo]:
    """Run the configured forward solver (no graph is built by the caller's choice of context)."""
    tol = config.tol if tol is None else tol
    max_iter = config.max_iter if max_iter is None else max_iter
    a = config.anderson
    if a is None:
        return fixed_point_iteration(f, x0, beta=config.beta, tol=tol, max_iter=max_iter)
    return anderson(f, x0, m=a.history, beta=a.beta, lam=a.lam, tol=tol, max_iter=max_iter)


class DEQFixedPoint:
    """A deep-equilibrium layer: see the module docstring for the contract."""

    def __init__(self, config: DEQConfig | None = None) -> None:
        self.config = config or DEQConfig()
        self.backward_info: SolverInfo | None = None

    def __call__(self, f: FixedPointMap, x0: torch.Tensor) -> tuple[torch.Tensor, SolverInfo]:
        cfg = self.config
        with torch.no_grad():
            z_star, info = solve(f, x0.detach(), cfg)
        if not torch.is_grad_enabled():
            return z_star, info
        return self.attach(f, z_star), info

    def attach(self, f: FixedPointMap, z_star: torch.Tensor) -> torch.Tensor:
        """``z = f(z*)`` with the configured backward, for a fixed point ``z_star`` solved elsewhere
        (e.g. by :func:`solve`, when the caller needs ``z*`` itself too); ``z_star`` is detached."""
        z_star = z_star.detach()
        if self.config.backward == "jfb":
            return f(z_star)
        z = f(z_star)
        if z.requires_grad:
            z_in = z_star.clone().requires_grad_()
            z.register_hook(self._make_hook(f(z_in), z_in))
        return z

    def _make_hook(self, f_in: torch.Tensor, z_in: torch.Tensor):
        cfg = self.config

        def vjp(v: torch.Tensor) -> torch.Tensor:
            (out,) = torch.autograd.grad(f_in, z_in, v, retain_graph=True)
            return out

        def hook(grad: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                if cfg.backward == "neumann":
                    term, total = grad, grad.clone()
                    for _ in range(cfg.neumann_terms):
                        term = vjp(term)
                        total = total + term
                    return total
                a, self.backward_info = solve(lambda v: vjp(v) + grad, grad, cfg, tol=cfg.backward_tol,
                                              max_iter=cfg.backward_max_iter)
                return a

        return hook
