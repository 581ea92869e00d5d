"""Plain (damped) fixed-point iteration, and what every fixed-point solver here shares.

A solver looks for ``x* = f(x*)`` for a map ``f`` on batched tensors ``(N, ...)``: each of the N
samples is its own problem (``f`` must treat them independently, as a network on a batch does).
Its quality measure is the relative fixed-point residual, per sample,

    r(x) = ||f(x) - x|| / ||f(x)||.

Step-wise iterators (:class:`FixedPointIterator`, :class:`~sci_viewer.solvers.anderson.AndersonIterator`)
evaluate ``f`` exactly once per :meth:`step` and return ``(f(x_k), r(x_k))``: the image of the
iterate, which is what a reconstruction shows (for DE-GAP it is the denoiser's output), and the
residual of that iterate. The functional solvers loop over them until every sample's residual is
``<= tol`` or ``max_iter`` steps were taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch

FixedPointMap = Callable[[torch.Tensor], torch.Tensor]
#: ``callback(k, fx, residual)`` after step k (1-based); returning True stops the solver.
Callback = Callable[[int, torch.Tensor, torch.Tensor], "bool | None"]

_EPS = 1e-12


def relative_residual(fx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``||f(x) - x|| / ||f(x)||`` per sample of the leading dimension, shape (N,)."""
    n = fx.shape[0]
    diff = torch.linalg.vector_norm((fx - x).reshape(n, -1), dim=1)
    return diff / torch.linalg.vector_norm(fx.reshape(n, -1), dim=1).clamp_min(_EPS)


@dataclass
class SolverInfo:
    """What a solve did.

    ``residuals`` is (iterations, N): row k-1 holds each sample's residual at step k.
    ``converged`` is True when every sample reached ``tol``.
    """

    iterations: int
    residuals: torch.Tensor
    converged: bool
    tol: float = 0.0
    fallbacks: int = 0  # Anderson steps that fell back to a plain step (singular/NaN solve)

    @property
    def final_residual(self) -> torch.Tensor:
        """(N,) residual of the iterate behind the returned estimate (empty before any step)."""
        return self.residuals[-1] if self.iterations else self.residuals.new_empty((0,))


class StepIterator(Protocol):
    """A fixed-point solver driven one ``f`` evaluation at a time."""

    iterations: int

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate ``f`` once; return ``(f(x_k), r(x_k))`` with r of shape (N,)."""
        ...


@dataclass
class FixedPointSettings:
    """Damped iteration ``x_{k+1} = beta f(x_k) + (1 - beta) x_k`` (``beta = 1``: plain)."""

    beta: float = 1.0


class FixedPointIterator:
    """Plain / damped fixed-point iteration, one ``f`` evaluation per :meth:`step`."""

    def __init__(self, f: FixedPointMap, x0: torch.Tensor, settings: FixedPointSettings | None = None) -> None:
        self.f = f
        self.settings = settings or FixedPointSettings()
        self.x = x0
        self.iterations = 0

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x
        fx = self.f(x)
        r = relative_residual(fx, x)
        beta = self.settings.beta
        self.x = fx if beta == 1.0 else torch.lerp(x, fx, beta)
        self.iterations += 1
        return fx, r

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the samples ``rows`` (indices into the batch); the others stop being updated."""
        self.x = self.x[rows]


def run_iterator(it: StepIterator, x0: torch.Tensor, *, tol: float, max_iter: int,
                 callback: Callback | None = None, fallbacks: Callable[[], int] = lambda: 0
                 ) -> tuple[torch.Tensor, SolverInfo]:
    """Step ``it`` until every residual is ``<= tol`` (or its sample stopped by the iterator, see
    :attr:`~sci_viewer.solvers.safeguard.SafeguardedIterator.stopped`) or ``max_iter`` steps; return the last f(x)."""
    rows: list[torch.Tensor] = []
    out, converged = x0, False
    for k in range(1, max_iter + 1):
        out, r = it.step()
        rows.append(r.detach())
        at_tol = r <= tol
        converged = bool(at_tol.all())
        if callback is not None and callback(k, out, r):
            break
        stopped = getattr(it, "stopped", None)
        if converged or (stopped is not None and bool((at_tol.cpu() | stopped).all())):
            break
    trace = torch.stack(rows).cpu() if rows else torch.zeros((0, x0.shape[0]))
    return out, SolverInfo(len(rows), trace, converged, tol, fallbacks())


def fixed_point_iteration(f: FixedPointMap, x0: torch.Tensor, *, beta: float = 1.0, tol: float = 1e-4,
                          max_iter: int = 100, callback: Callback | None = None
                          ) -> tuple[torch.Tensor, SolverInfo]:
    """Solve ``x = f(x)`` by (damped) iteration from ``x0`` (N, ...).

    Returns ``(f(x_K), info)`` where ``x_K`` is the last iterate; stops when every sample's
    ``r(x_K) <= tol`` or after ``max_iter`` evaluations of ``f``.
    """
    it = FixedPointIterator(f, x0, FixedPointSettings(beta))
    return run_iterator(it, x0, tol=tol, max_iter=max_iter, callback=callback)
