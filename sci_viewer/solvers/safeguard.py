"""Safeguarded fixed-point solving: notice when a solve stalls, and fall back instead of running on.

An Anderson solve can stop making progress (its history describes the map badly, or it
oscillates around a kink of a clipped map) and would then run silently into ``max_iter``. A
:class:`SafeguardedIterator` wraps the solver, watches each sample's residual with a
:class:`StallDetector`, and on a stall takes the next fallback of :attr:`SafeguardSettings.actions`:

- ``restart``: Anderson again, its history dropped, from the best iterate's image ``f(x_best)``;
- ``damp``: Anderson from the best iterate with damping ``beta`` (< 1);
- ``plain``: damped plain iteration ``x + beta (f(x) - x)`` from the best iterate.

When no fallback is left, a sample that stalls again is stopped (action ``stop``,
:attr:`SafeguardedIterator.stopped`): its residual no longer falls, and the engine ends its solve
there, short of ``tol``, instead of spending the rest of ``max_iter`` on it. With
:attr:`SafeguardSettings.stop` off, that stall is only recorded, once (action ``none``), and the solve
goes on as it is. Every action is a :class:`SafeguardAction` in :attr:`SafeguardedIterator.actions`; the engine turns
them into notices and the report's ``safeguards``.

A stall: over the last ``window`` steps the best residual of a sample that has not reached ``tol``
fell by less than the factor ``drop`` (no new best at all counts too), and, when the solve's step cap
``max_iter`` is known, its rate of fall since its last ``drop`` would not bring it to ``tol`` within
the steps left: a slow but steady solve is left to finish (a fallback would throw its progress
away). Until a stall nothing is
changed: a solve that never stalls is bit-identical to the unwrapped one. One step is still one
evaluation of ``f`` (a fallback starts from an image already computed). In a batch the action
applies to every sample (each restarts from its own best iterate).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from sci_viewer.solvers.anderson import AndersonIterator, AndersonSettings
from sci_viewer.solvers.fixed_point import (
    Callback, FixedPointIterator, FixedPointMap, FixedPointSettings, SolverInfo, run_iterator)

ACTIONS = ("restart", "damp", "plain")
_WHAT = {"restart": "restarted Anderson from the best iterate",
         "damp": "switched to damped Anderson (beta {beta:g}) from the best iterate",
         "plain": "switched to damped plain iteration (beta {beta:g}) from the best iterate",
         "none": "no fallback left; it continues as it is",
         "stop": "every fallback tried: stopped short of tol (the residual no longer falls)"}


@dataclass(frozen=True)
class SafeguardSettings:
    """``window``: steps watched; ``drop``: the best residual must fall below ``drop`` times its value
    ``window`` steps before; ``beta``: damping of the ``damp`` and ``plain`` fallbacks; ``actions``:
    the fallbacks in the order they are tried (a subset of :data:`ACTIONS`); ``stop``: a stall after
    the last fallback stops the sample (else, and always with ``tol`` 0, which asks to run to
    ``max_iter``, it is recorded and the solve goes on)."""

    window: int = 10
    drop: float = 0.8
    beta: float = 0.5
    actions: tuple[str, ...] = ACTIONS
    stop: bool = True

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"safeguard window must be >= 2 steps, got {self.window}")
        if not 0.0 < self.drop < 1.0:
            raise ValueError(f"safeguard drop must be in (0, 1), got {self.drop}")
        if not 0.0 < self.beta < 1.0:
            raise ValueError(f"safeguard beta must be in (0, 1), got {self.beta}")
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown safeguard action(s) {unknown}; known: {', '.join(ACTIONS)}")


@dataclass(frozen=True)
class SafeguardAction:
    """What the safeguard did after step ``k`` (1-based): ``action`` (``restart`` / ``damp`` /
    ``plain`` / ``none``), at ``residual``, the best residual of the stalled samples."""

    k: int
    action: str
    residual: float
    beta: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.k, "action": self.action, "residual": self.residual}

    def describe(self, k_offset: int = 0) -> str:
        """One line for a notice, ``k_offset`` added to the iteration number."""
        return (f"stalled at iteration {self.k + k_offset} (best residual {self.residual:.2e}); "
                + _WHAT[self.action].format(beta=self.beta))


class StallDetector:
    """Per sample: the best residual, its value at the start of the window, and the steps since."""

    def __init__(self, window: int, drop: float) -> None:
        self.window, self.drop = window, drop
        self.best: torch.Tensor | None = None  # (N,) float64
        self.ref: torch.Tensor | None = None
        self.since: torch.Tensor | None = None  # (N,) steps without enough progress

    def update(self, r: torch.Tensor, tol: float | torch.Tensor, remaining: int | None = None) -> torch.Tensor:
        """Take step residuals ``r`` (N,); return the (N,) bool of samples stalled now, short of ``tol``
        (one, or (N,) one per sample). With ``remaining`` (steps left before the solve's cap), a sample
        whose best residual, falling at its rate since the window began, reaches ``tol`` within them is
        not stalled."""
        r = r.detach().double().cpu()
        r = torch.where(torch.isfinite(r), r, torch.full_like(r, float("inf")))
        if self.best is None:
            self.best, self.ref, self.since = r.clone(), r.clone(), torch.zeros(r.shape, dtype=torch.long)
            return torch.zeros(r.shape, dtype=torch.bool)
        self.best = torch.minimum(self.best, r)
        progress = self.best <= self.drop * self.ref
        self.ref = torch.where(progress, self.best, self.ref)
        self.since = torch.where(progress, torch.zeros_like(self.since), self.since + 1)
        stalled = (self.since >= self.window) & (self.best > tol)
        if remaining is not None and bool(stalled.any()):
            stalled &= ~self.on_course(tol, remaining)
        return stalled

    def on_course(self, tol: float | torch.Tensor, remaining: int) -> torch.Tensor:
        """(N,) bool: the best residual, falling geometrically at its mean rate since the window began
        (``ref`` to ``best`` in ``since`` steps), reaches ``tol`` within ``remaining`` steps."""
        assert self.best is not None and self.ref is not None and self.since is not None
        tol_t = torch.as_tensor(tol, dtype=torch.float64)
        rate = torch.log(self.best / self.ref) / self.since.clamp_min(1)  # log of the per-step factor (<= 0)
        need = torch.log(tol_t / self.best) / rate  # steps to tol at that rate (inf / nan when not falling)
        return (rate < 0) & torch.isfinite(need) & (need <= remaining)

    def improved(self, r: torch.Tensor) -> torch.Tensor:
        """(N,) bool: ``r`` is a new best (call before :meth:`update`)."""
        r = r.detach().double().cpu()
        return torch.isfinite(r) if self.best is None else r < self.best

    def rearm(self) -> None:
        """After a fallback: a new window for every sample, measured from its best so far."""
        if self.best is not None:
            self.ref, self.since = self.best.clone(), torch.zeros_like(self.since)

    def select(self, rows: torch.Tensor) -> None:
        if self.best is not None:
            idx = rows.cpu()
            self.best, self.ref, self.since = self.best[idx], self.ref[idx], self.since[idx]


class SafeguardedIterator:
    """A step iterator (Anderson with ``anderson`` settings, or damped plain iteration with
    ``plain_beta`` when ``anderson`` is None) that falls back on a stall; see the module docstring.

    ``step()`` returns ``(f(x_k), r(x_k))`` like the iterator it wraps; :attr:`actions` lists what
    the safeguard did, :attr:`stopped` which samples it stopped. Plain iteration chosen by the user
    has no fallback: its first stall stops it (or is recorded, with ``settings.stop`` off)."""

    def __init__(self, f: FixedPointMap, x0: torch.Tensor, anderson: AndersonSettings | None, *,
                 tol: float | torch.Tensor, plain_beta: float = 1.0, settings: SafeguardSettings | None = None,
                 max_iter: int | None = None) -> None:
        # tol: one for all samples, or (N,) one per sample (a batched solve of measurements of different noise);
        # max_iter: the solve's cap on steps, if known: a solve on course to reach tol within it is not stalled
        self._f, self.anderson, self.max_iter = f, anderson, max_iter
        self.tol = tol.detach().double().cpu() if isinstance(tol, torch.Tensor) else tol
        self.settings = settings or SafeguardSettings()
        self.inner: AndersonIterator | FixedPointIterator = (
            AndersonIterator(f, x0, anderson) if anderson is not None
            else FixedPointIterator(f, x0, FixedPointSettings(plain_beta)))
        self._pending = list(self.settings.actions) if anderson is not None else []
        self.detector = StallDetector(self.settings.window, self.settings.drop)
        self._best_fx: torch.Tensor | None = None
        self.actions: list[SafeguardAction] = []
        self.iterations = 0
        self._fallbacks = 0  # of Anderson iterators replaced by a fallback
        self._exhausted = False
        self._stopped: torch.Tensor | None = None  # (N,) bool: samples stopped after the last fallback

    @property
    def f(self) -> FixedPointMap:
        return self._f

    @f.setter
    def f(self, f: FixedPointMap) -> None:  # a batched solve swaps the map when its batch shrinks
        self._f = f
        self.inner.f = f

    @property
    def fallbacks(self) -> int:
        """Anderson steps that fell back to a plain step (singular or non-finite mixing)."""
        return self._fallbacks + getattr(self.inner, "fallbacks", 0)

    @property
    def stopped(self) -> torch.Tensor | None:
        """(N,) bool on the CPU: the samples stopped on a stall with no fallback left (None before any step)."""
        return self._stopped

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the samples ``rows``, as the wrapped iterator's ``select``."""
        self.inner.select(rows)
        self.detector.select(rows)
        if isinstance(self.tol, torch.Tensor):
            self.tol = self.tol[rows.cpu()]
        if self._stopped is not None:
            self._stopped = self._stopped[rows.cpu()]
        if self._best_fx is not None:
            self._best_fx = self._best_fx[rows]

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        fx, r = self.inner.step()
        self.iterations += 1
        better = self.detector.improved(r).to(fx.device)
        if self._best_fx is None:
            self._best_fx = fx
        elif bool(better.any()):
            self._best_fx = torch.where(better.view(-1, *([1] * (fx.dim() - 1))), fx, self._best_fx)
        remaining = None if self.max_iter is None else max(self.max_iter - self.iterations, 0)
        stalled = self.detector.update(r, self.tol, remaining)
        if self._stopped is None:
            self._stopped = torch.zeros(stalled.shape, dtype=torch.bool)
        if bool(stalled.any()):
            if self._pending:
                self._fall_back(float(self.detector.best[stalled].max()))
            elif self.settings.stop and bool((torch.as_tensor(self.tol) > 0).all()):
                # tol 0 asks to run to max_iter: recorded, not stopped
                self._stop(stalled & ~self._stopped)
            elif not self._exhausted:
                self.actions.append(SafeguardAction(self.iterations, "none", float(self.detector.best[stalled].max())))
                self._exhausted = True
        return fx, r

    def _stop(self, new: torch.Tensor) -> None:
        if bool(new.any()):
            assert self._stopped is not None and self.detector.best is not None
            self._stopped = self._stopped | new
            self.actions.append(SafeguardAction(self.iterations, "stop", float(self.detector.best[new].max())))

    def _fall_back(self, residual: float) -> None:
        action = self._pending.pop(0)
        self._fallbacks += getattr(self.inner, "fallbacks", 0)
        start, s = self._best_fx, self.settings
        assert start is not None and self.anderson is not None
        beta = min(s.beta, self.anderson.beta * s.beta) if action != "restart" else self.anderson.beta
        if action == "plain":
            self.inner = FixedPointIterator(self._f, start, FixedPointSettings(beta))
        else:
            self.inner = AndersonIterator(self._f, start, dataclasses.replace(self.anderson, beta=beta))
        self.actions.append(SafeguardAction(self.iterations, action, residual, beta))
        self.detector.rearm()


def safeguarded_anderson(f: FixedPointMap, x0: torch.Tensor, *, m: int = 5, beta: float = 1.0, lam: float = 1e-4,
                         tol: float = 1e-4, max_iter: int = 100, settings: SafeguardSettings | None = None,
                         callback: Callback | None = None) -> tuple[torch.Tensor, SolverInfo, list[SafeguardAction]]:
    """:func:`~sci_viewer.solvers.anderson.anderson` with the safeguard: ``(f(x_K), info, actions)``."""
    it = SafeguardedIterator(f, x0, AndersonSettings(m, beta, lam), tol=tol, settings=settings, max_iter=max_iter)
    out, info = run_iterator(it, x0, tol=tol, max_iter=max_iter, callback=callback, fallbacks=lambda: it.fallbacks)
    return out, info, it.actions
