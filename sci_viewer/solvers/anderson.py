"""Anderson acceleration (type II) for ``x = f(x)``, batched, one ``f`` evaluation per step.

With the last ``n <= m`` iterates ``x_i`` and their residual vectors ``g_i = f(x_i) - x_i``, the
next iterate is

    x_{k+1} = sum_i alpha_i (x_i + beta g_i),
    alpha = argmin ||sum_i alpha_i g_i||^2 + lam' ||alpha||^2  subject to  sum_i alpha_i = 1,

whose solution is ``alpha = H^{-1} 1 / (1^T H^{-1} 1)`` with ``H = G G^T + lam' I``. The
regulariser is relative, ``lam' = lam * mean(diag(G G^T))``, so it means the same whatever the
residuals' scale (an absolute one swamps the Gram matrix near convergence and stalls the solver).

Cost: the history ``F = f(x_i), G = g_i`` (N, m, D) stays on the tensors' device in their
dtype (``x_i = F_i - G_i`` is never stored); each step is one subtraction written into the
history, two norms, ``m`` dot products updating one row of the Gram matrix (solved in float64),
and one (N, 1, m) x (N, m, D) product for the mix (two when ``beta != 1``). A
singular or non-finite solve falls back to the damped plain step ``x + beta g`` for that sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sci_viewer.solvers.fixed_point import Callback, FixedPointMap, SolverInfo, run_iterator


@dataclass
class AndersonSettings:
    """``history``: m, iterates remembered; ``beta``: damping (1 = none); ``lam``: relative
    Tikhonov regularisation of the least-squares mixing problem."""

    history: int = 5
    beta: float = 1.0
    lam: float = 1e-4

    def __post_init__(self) -> None:
        if self.history < 1:
            raise ValueError(f"Anderson history must be >= 1, got {self.history}")
        if not 0.0 < self.beta <= 2.0:
            raise ValueError(f"Anderson beta must be in (0, 2], got {self.beta}")
        if self.lam < 0:
            raise ValueError(f"Anderson lam must be >= 0, got {self.lam}")


class AndersonIterator:
    """Anderson-accelerated fixed-point iteration driven one step at a time.

    ``step()`` evaluates ``f`` at the current iterate ``x_k`` and returns ``(f(x_k), r(x_k))``;
    the next iterate is mixed from the history when the following step starts.
    """

    def __init__(self, f: FixedPointMap, x0: torch.Tensor, settings: AndersonSettings | None = None) -> None:
        self.f = f
        self.settings = settings or AndersonSettings()
        self.shape = x0.shape
        n, m = x0.shape[0], self.settings.history
        d = x0[0].numel()
        self._F = x0.new_zeros((n, m, d))  # f(x_i)
        self._G = x0.new_zeros((n, m, d))  # g_i = f(x_i) - x_i
        self._gram = torch.zeros((n, m, m), dtype=torch.float64, device=x0.device)
        self._x: torch.Tensor | None = x0
        self.iterations = 0
        self.fallbacks = 0

    @property
    def stored(self) -> int:
        return min(self.iterations, self.settings.history)

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the samples ``rows`` (indices into the batch); the others stop being updated.
        Each sample's history is its own, so the kept ones continue exactly as before."""
        self._F, self._G, self._gram = self._F[rows], self._G[rows], self._gram[rows]
        if self._x is not None:
            self._x = self._x[rows]
        self.shape = (int(rows.numel()), *self.shape[1:])

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._x if self._x is not None else self._mix()
        fx = self.f(x)
        n = x.shape[0]
        slot = self.iterations % self.settings.history
        g = self._G[:, slot]
        torch.sub(fx.reshape(n, -1), x.reshape(n, -1), out=g)
        self._F[:, slot] = fx.reshape(n, -1)
        r = torch.linalg.vector_norm(g, dim=1) / torch.linalg.vector_norm(self._F[:, slot], dim=1).clamp_min(1e-12)
        self.iterations += 1
        used = self.stored
        dots = torch.bmm(self._G[:, :used], g.unsqueeze(-1)).squeeze(-1).double()  # (N, used)
        self._gram[:, slot, :used] = dots
        self._gram[:, :used, slot] = dots
        self._x = None  # mixed lazily: a final step wastes nothing
        return fx, r

    def _mix(self) -> torch.Tensor:
        s, used = self.settings, self.stored
        n = self._F.shape[0]
        H = self._gram[:, :used, :used]
        diag = torch.diagonal(H, dim1=1, dim2=2)
        reg = (s.lam * diag.mean(1)).clamp_min(1e-300)
        eye = torch.eye(used, dtype=H.dtype, device=H.device)
        ones = torch.ones((n, used, 1), dtype=H.dtype, device=H.device)
        sol, info = torch.linalg.solve_ex(H + reg[:, None, None] * eye, ones)
        sol = sol.squeeze(-1)
        total = sol.sum(1, keepdim=True)
        alpha = sol / total
        bad = (info != 0) | ~torch.isfinite(alpha).all(1) | (total.squeeze(1).abs() < 1e-300)
        if bool(bad.any()):
            newest = (self.iterations - 1) % s.history
            plain = torch.zeros_like(alpha)
            plain[:, newest] = 1.0
            alpha = torch.where(bad[:, None], plain, alpha)
            self.fallbacks += int(bad.sum())
        a = alpha.to(self._F.dtype).unsqueeze(1)  # (N, 1, used)
        x = torch.bmm(a, self._F[:, :used]).squeeze(1)  # sum alpha_i f(x_i) = sum alpha_i (x_i + g_i)
        if s.beta != 1.0:  # sum alpha_i (x_i + beta g_i)
            x = x.sub_(torch.bmm(a, self._G[:, :used]).squeeze(1), alpha=1.0 - s.beta)
        return x.reshape(self.shape)


def anderson(f: FixedPointMap, x0: torch.Tensor, *, m: int = 5, beta: float = 1.0, lam: float = 1e-4,
             tol: float = 1e-4, max_iter: int = 100, callback: Callback | None = None
             ) -> tuple[torch.Tensor, SolverInfo]:
    """Solve ``x = f(x)`` from ``x0`` (N, ...) with Anderson acceleration.

    Returns ``(f(x_K), info)``: the image of the last iterate and the solve's record. Stops when
    every sample's ``||f(x) - x|| / ||f(x)|| <= tol``, after ``max_iter`` evaluations of ``f``, or
    when ``callback(k, f(x_k), r_k)`` returns True.
    """
    it = AndersonIterator(f, x0, AndersonSettings(m, beta, lam))
    return run_iterator(it, x0, tol=tol, max_iter=max_iter, callback=callback, fallbacks=lambda: it.fallbacks)
