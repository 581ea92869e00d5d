"""The DEQ stage's gradient-free forward solve, with per-sample stopping.

A training batch holds independent problems (each sample its own video, mask and measurement),
and Anderson's history, mixing and stopping test are per sample too. A batched solve that runs
until *every* sample reached ``tol`` spends the slowest sample's iteration count on all of them.
:func:`solve_per_sample` freezes a sample when its residual reaches ``tol`` (keeping that
iteration's ``f(x)``, as a one-sample solve would return) and drops it from the batch, so the
remaining ones continue exactly as before on a smaller batch
(:meth:`~sci_viewer.solvers.anderson.AndersonIterator.select`).
"""

from __future__ import annotations

from typing import Callable

import torch

from sci_viewer.solvers import AndersonSettings, SolverInfo
from sci_viewer.solvers.anderson import AndersonIterator

Map = Callable[[torch.Tensor], torch.Tensor]
#: ``restrict(rows)``: the map of the batch rows ``rows`` only (a 1-D index tensor)
Restrict = Callable[[torch.Tensor], Map]


def solve_per_sample(f: Map, restrict: Restrict, x0: torch.Tensor, settings: AndersonSettings, tol: float,
                     max_iter: int) -> tuple[torch.Tensor, SolverInfo]:
    """Anderson on ``x = f(x)`` from ``x0`` (N, ...), each sample stopped at its own ``tol``.

    Returns ``(z, info)``: each sample's ``f(x)`` at the step it stopped (``max_iter`` at most), and a
    record whose ``residuals[k]`` holds each sample's residual at step k+1 (a stopped sample's last
    one repeated), ``iterations`` the largest count."""
    n = x0.shape[0]
    it = AndersonIterator(f, x0, settings)
    out = torch.empty_like(x0)
    rows = torch.arange(n, device=x0.device)
    last = torch.full((n,), float("inf"), dtype=torch.float32)
    trace: list[torch.Tensor] = []
    for k in range(1, max_iter + 1):
        fx, r = it.step()
        r_cpu = r.detach().float().cpu()
        last[rows.cpu()] = r_cpu
        trace.append(last.clone())
        done = r_cpu <= tol
        if k == max_iter or bool(done.all()):
            out[rows] = fx
            break
        if bool(done.any()):
            idx = done.nonzero().squeeze(1).to(x0.device)
            out[rows[idx]] = fx[idx]
            keep = (~done).nonzero().squeeze(1).to(x0.device)
            rows = rows[keep]
            it.select(keep)
            it.f = restrict(rows)
    residuals = torch.stack(trace) if trace else torch.zeros((0, n))
    converged = bool((last <= tol).all())
    return out, SolverInfo(len(trace), residuals, converged, tol, it.fallbacks)
