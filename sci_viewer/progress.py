"""Time-left estimates for a running job, from the iteration rate and the residual's trend.

No Qt: the app's status bar and the command line use the same estimator. Feed it every iteration
(:meth:`TimeEstimator.update`), mark finished measurements (:meth:`TimeEstimator.finish`), and read
:meth:`TimeEstimator.estimate`.

- A **fixed-count** solver (GAP-TV, PnP-GAP: ``iterations``, no ``tol``) has ``cap - k`` iterations left.
- A **fixed-point** solver (DE-GAP, DE-RNN: ``max_iter`` and ``tol > 0``) stops when its residual
  reaches ``tol``. The log of the residual over the last iterations is fitted by a line and
  extrapolated to ``tol`` (linear convergence, what Anderson and plain fixed-point iteration show
  once they settle), never beyond the cap; a residual that is not falling gives the cap.

Seconds per iteration come from the recent iterations of the current measurement (a solver's start
and first steps are often slower). Measurements not started yet are expected to take as many
iterations as the finished ones did on average (else as the current one is expected to).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

#: iterations of the recent history used for the rate and the residual trend
WINDOW = 12
#: fewer points than this give no trend (the cap bounds the estimate instead)
MIN_TREND_POINTS = 4


@dataclass(frozen=True)
class TimeEstimate:
    """Seconds left on the current measurement and on the whole run (None: not known yet).

    ``iterations_left``: of the current measurement; ``basis``: ``"count"`` (fixed count),
    ``"trend"`` (residual extrapolated to tol) or ``"cap"`` (no falling trend: bounded by the cap).
    """

    measurement_s: float | None
    run_s: float | None
    iterations_left: int | None
    basis: str

    def text(self) -> str:
        """Short form for a status bar, e.g. ``"~12 s left (meas), ~1 min 4 s (run)"``."""
        if self.measurement_s is None:
            return "estimating time left …"
        bound = "≤ " if self.basis == "cap" else "~"
        out = f"{bound}{format_seconds(self.measurement_s)} left (meas)"
        if self.run_s is not None and self.run_s > self.measurement_s + 0.5:
            out += f", {bound}{format_seconds(self.run_s)} (run)"
        return out


def format_seconds(seconds: float) -> str:
    """``4 s``, ``2 min 5 s``, ``1 h 3 min``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def iterations_to_tol(ks: list[int], residuals: list[float], tol: float) -> float | None:
    """Iteration number at which a line fitted to ``log(residual)`` against ``k`` reaches ``tol``;
    None when there are too few finite points or the residual is not falling."""
    pts = [(k, math.log(r)) for k, r in zip(ks, residuals) if r > 0 and math.isfinite(r)]
    if len(pts) < MIN_TREND_POINTS or tol <= 0:
        return None
    n = len(pts)
    mk = sum(k for k, _ in pts) / n
    ml = sum(v for _, v in pts) / n
    sxx = sum((k - mk) ** 2 for k, _ in pts)
    if sxx == 0:
        return None
    slope = sum((k - mk) * (v - ml) for k, v in pts) / sxx
    if slope >= 0:
        return None
    return mk + (math.log(tol) - ml) / slope


class TimeEstimator:
    """Estimates the time left of a job of ``n_measurements`` measurements.

    ``cap``: iterations a measurement may take (``iterations`` or ``max_iter``; 0 if unknown);
    ``tol``: the fixed-point tolerance, or None / 0 for a fixed-count solver.
    """

    def __init__(self, n_measurements: int, cap: int, tol: float | None = None) -> None:
        self.n = max(1, int(n_measurements))
        self.cap = max(0, int(cap))
        self.tol = float(tol) if tol else None
        self._position = 0
        self._ks: deque[int] = deque(maxlen=WINDOW)
        self._seconds: deque[float] = deque(maxlen=WINDOW)
        self._residuals: deque[float] = deque(maxlen=WINDOW)
        self._done_iterations: list[int] = []
        self._done_seconds: list[float] = []

    @classmethod
    def for_settings(cls, n_measurements: int, settings: Mapping[str, Any]) -> "TimeEstimator":
        """From an algorithm's settings: ``iterations`` (fixed count) or ``max_iter`` with ``tol``."""
        cap = next((int(settings[k]) for k in ("iterations", "max_iter") if isinstance(settings.get(k), int)), 0)
        tol = settings.get("tol") if "iterations" not in settings else None
        return cls(n_measurements, cap, float(tol) if isinstance(tol, (int, float)) else None)

    def update(self, position: int, k: int, residual: float, seconds: float, tol: float | None = None) -> None:
        """Iteration ``k`` (1-based, counted in this job) of the measurement at ``position`` ended
        ``seconds`` of solver time after that measurement began, with this fixed-point residual;
        ``tol``: the tolerance that measurement is solved to, where the solver says (DE-GAP raises a
        noisy measurement's above the settings' ``tol``)."""
        if tol and self.tol is not None:
            self.tol = float(tol)
        if position != self._position:
            self._position = position
            self._ks.clear()
            self._seconds.clear()
            self._residuals.clear()
        self._ks.append(int(k))
        self._seconds.append(float(seconds))
        self._residuals.append(float(residual))

    def finish(self, iterations: int, seconds: float) -> None:
        """A measurement ended after ``iterations`` iterations (of this job) and ``seconds``."""
        self._done_iterations.append(int(iterations))
        self._done_seconds.append(float(seconds))

    def seconds_per_iteration(self) -> float | None:
        """Recent rate on the current measurement (its whole mean before two points exist)."""
        if not self._ks:
            return None
        if len(self._ks) >= 2 and self._ks[-1] > self._ks[0]:
            return max(0.0, (self._seconds[-1] - self._seconds[0]) / (self._ks[-1] - self._ks[0]))
        return self._seconds[-1] / max(1, self._ks[-1])

    def _iterations_left(self) -> tuple[int | None, str]:
        k = self._ks[-1]
        cap_left = max(0, self.cap - k) if self.cap else None
        if self.tol is None:
            return cap_left, "count" if cap_left is not None else "cap"
        at = iterations_to_tol(list(self._ks), list(self._residuals), self.tol)
        if at is None:
            return cap_left, "cap"
        left = max(0, math.ceil(at) - k)
        if cap_left is not None and left >= cap_left:
            return cap_left, "cap"  # the trend reaches tol only after the cap, if at all
        return left, "trend"

    def estimate(self) -> TimeEstimate:
        """The current estimate (all None until the first iteration)."""
        rate = self.seconds_per_iteration()
        if rate is None:
            return TimeEstimate(None, None, None, "count" if self.tol is None else "cap")
        left, basis = self._iterations_left()
        if left is None:
            return TimeEstimate(None, None, None, basis)
        meas_s = left * rate
        later = self.n - 1 - self._position
        if self._done_iterations:  # later measurements: as long as the finished ones took
            per_meas = sum(self._done_seconds) / len(self._done_seconds)
        else:
            per_meas = (self._ks[-1] + left) * rate
        return TimeEstimate(meas_s, meas_s + max(0, later) * per_meas, left, basis)
