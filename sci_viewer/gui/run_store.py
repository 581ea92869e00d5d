"""The runs of this session: what each reconstructed, with a bounded history.

Only the latest estimate per measurement is kept for a run (live previews replace each other),
and only the last :data:`MAX_RUNS` runs keep their estimates at all; their convergence curves
(a few numbers per iteration) stay on the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sci_viewer.capture import Capture
from sci_viewer.engine import JobFinished, MeasurementResult

MAX_RUNS = 8


@dataclass
class RunRecord:
    run_id: int
    label: str
    algo: str
    settings: dict[str, Any]
    device: str
    measurements: list[int]
    capture: Capture
    estimates: dict[int, np.ndarray] = field(default_factory=dict)  # measurement → (B, H, W)
    results: dict[int, MeasurementResult] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    k_done: dict[int, int] = field(default_factory=dict)  # measurement → iterations done
    finished: bool = False
    cancelled: bool = False
    failed: str | None = None
    job_ids: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Finished with an estimate for each of its measurements (can be exported)."""
        return self.finished and all(m in self.estimates for m in self.measurements)

    @property
    def can_continue(self) -> bool:
        """Finished or stopped with an estimate to go on from (measurements a stop left out start afresh)."""
        return self.finished and bool(self.estimates)

    @property
    def last_k(self) -> int:
        """The highest iteration number so far."""
        return max(self.k_done.values(), default=0)

    def note_iteration(self, measurement: int, k: int) -> None:
        self.k_done[measurement] = max(self.k_done.get(measurement, 0), k)

    def reconstruction(self) -> np.ndarray:
        """(n, B, H, W) estimates in measurement order (those available)."""
        return np.stack([self.estimates[m] for m in self.measurements if m in self.estimates])

    def finish(self, final: JobFinished) -> None:
        self.finished = True
        self.cancelled = final.cancelled
        self.config = final.config
        self.device = final.device
        for r in final.results:
            self.results[r.index] = r
            self.estimates[r.index] = r.estimate
            self.note_iteration(r.index, r.iterations)

    def summary(self) -> str:
        parts = []
        for m in self.measurements:
            r = self.results.get(m)
            if r is None:
                continue
            psnr = f"PSNR {r.psnr:.2f} dB, " if r.psnr is not None else ""
            parts.append(f"meas {m}: {psnr}{r.iterations} it, {r.seconds:.2f} s, residual {r.final_residual:.2e}")
        state = " (stopped)" if self.cancelled else ""
        return f"{self.label}{state}: " + ("; ".join(parts) or "no measurement finished")


class RunStore:
    """Runs by id, oldest first; drops the estimates of runs beyond :data:`MAX_RUNS`."""

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self.max_runs = max_runs
        self._runs: dict[int, RunRecord] = {}
        self._next = 1
        self._counts: dict[str, int] = {}

    def new_run(self, algo: str, label: str, settings: dict[str, Any], device: str,
                measurements: list[int], capture: Capture) -> RunRecord:
        n = self._counts[algo] = self._counts.get(algo, 0) + 1
        record = RunRecord(self._next, f"{label} #{n}", algo, settings, device, measurements, capture)
        self._runs[record.run_id] = record
        self._next += 1
        self._trim()
        return record

    def _trim(self) -> list[int]:
        dropped = []
        while len(self._runs) > self.max_runs:
            oldest = next(iter(self._runs))
            dropped.append(oldest)
            del self._runs[oldest]
        return dropped

    def get(self, run_id: int) -> RunRecord | None:
        return self._runs.get(run_id)

    def runs(self) -> list[RunRecord]:
        return list(self._runs.values())

    def finished(self) -> list[RunRecord]:
        return [r for r in self._runs.values() if r.finished and r.estimates]

    def clear(self) -> None:
        self._runs.clear()
        self._counts.clear()

    def __len__(self) -> int:
        return len(self._runs)
