"""The DEQ stage's fixed-point solve and gradients, on top of :mod:`sci_viewer.solvers`.

:func:`equilibrium` solves ``z* = f(z*)`` without a graph with the solvers' Anderson
acceleration (:func:`sci_viewer.solvers.implicit.solve`), then makes one differentiable
application ``f(z*)`` whose backward is the configured one (``deq.backward``):

- ``jfb``, ``neumann``, ``implicit``: :meth:`sci_viewer.solvers.DEQFixedPoint.attach`
  (Jacobian-free; truncated Neumann series of ``implicit_iters`` terms; the adjoint equation
  ``a = J^T a + g`` solved by Anderson to ``tol`` in at most ``implicit_iters`` iterations).
- ``phantom`` (the default, which the shipped model was trained with): :func:`phantom_output`,
  ``phantom_k - 1`` further damped steps after ``f(z*)``; ``phantom_k <= 1`` is ``jfb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from sci_viewer.solvers import AndersonSettings, DEQConfig, DEQFixedPoint, SolverInfo
from sci_viewer.solvers.implicit import solve
from sci_viewer.training.config import DeqConfig
from sci_viewer.training.forward_solve import Restrict, solve_per_sample

Map = Callable[[torch.Tensor], torch.Tensor]


def solver_config(dc: DeqConfig) -> DEQConfig:
    """The solvers' :class:`DEQConfig` for a training ``deq`` section (``phantom`` maps to ``jfb``:
    the phantom steps are added after the solvers' Jacobian-free ``f(z*)``)."""
    return DEQConfig(
        tol=dc.tol, max_iter=dc.max_iter, anderson=AndersonSettings(dc.anderson_m, dc.beta, dc.lam),
        backward="jfb" if dc.backward == "phantom" else dc.backward,  # type: ignore[arg-type]
        neumann_terms=dc.implicit_iters, backward_tol=dc.tol, backward_max_iter=dc.implicit_iters,
    )


@dataclass
class Equilibrium:
    z: torch.Tensor        # what the loss sees, carrying the configured gradient
    fz: torch.Tensor       # f(z*) with its graph: the f(z) of the residual penalty (``z`` unless phantom_k > 1)
    z_star: torch.Tensor   # the solver's fixed-point estimate, detached
    info: SolverInfo       # the forward solve's record


def equilibrium(f: Map, x0: torch.Tensor, dc: DeqConfig, solve_map: Map | None = None,
                restrict: Restrict | None = None) -> Equilibrium:
    """Solve ``z* = f(z*)`` from ``x0`` and attach the gradient ``dc.backward`` asks for.

    ``solve_map`` (default ``f``) is the same map used for the gradient-free solve, e.g. ``f`` with
    the network in eval mode; with ``restrict`` (``solve_map`` of a subset of the batch rows) each
    sample stops at its own ``dc.tol`` (:func:`.forward_solve.solve_per_sample`)."""
    layer = DEQFixedPoint(solver_config(dc))
    with torch.no_grad():
        if restrict is not None and layer.config.anderson is not None:
            z_star, info = solve_per_sample(solve_map or f, restrict, x0.detach(), layer.config.anderson,
                                            dc.tol, dc.max_iter)
        else:
            z_star, info = solve(solve_map or f, x0.detach(), layer.config)
    z_star = z_star.detach()
    fz = layer.attach(f, z_star)
    z = fz
    if dc.backward == "phantom" and dc.phantom_k > 1:
        d = dc.phantom_damping
        z = phantom_output(f, (1 - d) * z_star + d * fz, dc.phantom_k - 1, d)
    return Equilibrium(z, fz, z_star, info)


def phantom_output(f: Map, z_star: torch.Tensor, k: int = 1, damping: float = 1.0) -> torch.Tensor:
    """``k`` damped steps ``z <- (1-d) z + d f(z)`` from ``z_star``, with gradient.

    ``z_star`` is detached first, so only these ``k`` steps carry a gradient (with
    :func:`equilibrium`'s ``phantom_k = 2``: the last of the two steps only).
    """
    z = z_star.detach()
    for _ in range(max(1, k)):
        fz = f(z)
        z = fz if damping == 1.0 else (1 - damping) * z + damping * fz
    return z


def max_residual(info: SolverInfo) -> float:
    """The batch's largest final relative residual ``||f(x)-x|| / ||f(x)||`` (inf before any step)."""
    r = info.final_residual
    return float(r.max()) if r.numel() else float("inf")


def share_at_tol(info: SolverInfo, tol: float) -> float:
    """The share of the batch whose final residual reached ``tol`` (0 before any step)."""
    r = info.final_residual
    return float((r <= tol).float().mean()) if r.numel() else 0.0
