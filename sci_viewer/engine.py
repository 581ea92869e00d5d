"""The engine: runs a reconstruction job and yields one event per iteration.

GUI, CLI and tests all call :func:`run_job` (a generator) or :func:`execute` (a loop with a
callback). Cancelling is checked between iterations. A numerical fault (NaN/Inf) stops the
measurement with a message and keeps the last good estimate; CUDA out-of-memory falls back to CPU.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from sci_viewer.algorithms import get_algorithm
from sci_viewer.algorithms.base import settings_to_dict
from sci_viewer.batching import batch_size, round_robin
from sci_viewer.capture import Capture
from sci_viewer.errors import JobError, SciViewerError
from sci_viewer.metrics import data_residual, psnr, ssim
from sci_viewer.physics import Cacti
from sci_viewer.provenance import provenance
from sci_viewer.settings import resolve_device

_job_ids = itertools.count(1)


class CancelToken:
    """Thread-safe flag a front end sets to stop a job between iterations."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass
class Job:
    """A capture, an algorithm with settings, a device, and which measurements to reconstruct.

    ``warm_start`` (n, B, H, W), on the [0, 1] scale, continues from earlier estimates (e.g.
    "continue iterating"); a list may hold ``None`` for a measurement that starts afresh.
    ``warm_state``: per measurement, the solver state that came with its estimate
    (:attr:`MeasurementResult.state`), for solvers that keep more than the estimate.
    ``k_offset`` numbers the new iterations after the earlier ones (one number, or one per measurement).
    ``preview_every``: an estimate is attached to every n-th iteration's event (and the last).
    ``ssim_every``: SSIM is computed on those iterations only (it costs more than PSNR).
    """

    capture: Capture
    algo: str = "gap-tv"
    settings: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    measurements: list[int] | None = None
    preview_every: int = 5
    ssim_every: int = 5
    track_metrics: bool = True
    warm_start: np.ndarray | Sequence[np.ndarray | None] | None = None
    warm_state: Sequence[dict[str, np.ndarray] | None] | None = None
    k_offset: int | Sequence[int] = 0
    # measurements solved together as one batch where the algorithm can (DE-GAP, DE-RNN); None: automatic
    # (sci_viewer.batching.batch_size), 1: one at a time. The results are the same either way.
    batch: int | None = None
    job_id: int = field(default_factory=lambda: next(_job_ids))

    def k_offset_at(self, position: int) -> int:
        """Iterations the measurement at ``position`` had before this job."""
        return self.k_offset if isinstance(self.k_offset, int) else int(self.k_offset[position])

    def config(self) -> dict[str, Any]:
        """Everything needed to rerun this job (saved beside exports)."""
        spec = get_algorithm(self.algo)
        settings = settings_to_dict(spec.settings(**self.settings))
        return {
            "algo": self.algo,
            "settings": settings,
            "provenance": provenance(settings),  # package versions, the model file's SHA-256
            "device": self.device,
            "measurements": self.capture.check_indices(self.measurements),
            "capture": self.capture.config(),  # with its dark frame and saturation level
        }


@dataclass
class IterationEvent:
    job_id: int
    measurement: int  # index in the capture
    position: int  # 0-based position among the job's measurements
    k: int  # 1-based iteration number
    residual: float
    psnr: float | None
    ssim: float | None
    estimate: np.ndarray | None  # (B, H, W) float32, [0, 1] scale, on preview iterations
    seconds: float  # solver time so far on this measurement
    # ||y - A x_k|| / ||y||: what the measurement still disagrees with (needs no ground truth);
    # None where metrics are not tracked
    data_residual: float | None = None
    # the tolerance this measurement is solved to (fixed-point solvers; DE-GAP raises a noisy one's,
    # see sci_viewer.noise.noise_tolerance); None for a fixed iteration count
    tol: float | None = None


@dataclass
class MeasurementResult:
    index: int
    estimate: np.ndarray  # (B, H, W) float32
    psnr: float | None
    ssim: float | None
    seconds: float
    iterations: int
    final_residual: float
    converged: bool
    message: str | None = None  # e.g. why it stopped early
    # what a solver needs besides the estimate to carry on exactly (see Job.warm_state)
    state: dict[str, np.ndarray] | None = None
    final_data_residual: float | None = None  # ||y - A x|| / ||y|| of the kept estimate
    # what a fixed-point solve's stall safeguard did: [{"k": 37, "action": "restart", "residual": ...}]
    safeguards: list[dict[str, Any]] = field(default_factory=list)
    # what the solver took from the measurement (e.g. DE-GAP: its noise, the relaxed data step)
    notes: list[str] = field(default_factory=list)


@dataclass
class NoticeEvent:
    job_id: int
    message: str
    warning: bool = True  # False: information (e.g. the noise a solver estimated), not a problem


@dataclass
class JobFinished:
    job_id: int
    algo: str
    device: str
    results: list[MeasurementResult]
    cancelled: bool
    config: dict[str, Any]
    trace: list[IterationEvent]  # metrics of every iteration (estimates dropped)

    @property
    def reconstruction(self) -> np.ndarray:
        """(n, B, H, W) estimates of the finished measurements."""
        return np.stack([r.estimate for r in self.results]) if self.results else np.zeros((0,))

    def report(self) -> dict[str, Any]:
        def mean(vals: list[float | None]) -> float | None:
            vals = [v for v in vals if v is not None]
            return float(np.mean(vals)) if vals else None

        return {
            "algo": self.algo,
            "device": self.device,
            "cancelled": self.cancelled,
            "settings": self.config.get("settings"),
            "measurements": [
                {"index": r.index, "psnr": r.psnr, "ssim": r.ssim, "seconds": r.seconds,
                 "iterations": r.iterations,
                 "final_residual": r.final_residual if math.isfinite(r.final_residual) else None,  # JSON: null
                 "final_data_residual": r.final_data_residual,
                 "converged": r.converged, "message": r.message, "safeguards": r.safeguards, "notes": r.notes}
                for r in self.results
            ],
            "mean_psnr": mean([r.psnr for r in self.results]),
            "mean_ssim": mean([r.ssim for r in self.results]),
        }


Event = IterationEvent | MeasurementResult | NoticeEvent | JobFinished


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _guarded(call: Callable[[], Any], what: str) -> Any:
    """``call()``; an error that is not already the user's kind (a bug in a solver or plugin) is
    re-raised as a JobError saying what failed, so every front end reports it the same way."""
    try:
        return call()
    except (SciViewerError, torch.OutOfMemoryError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise JobError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _checked_step(out: Any, label: str, where: str, shape: tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """A solver step's ``(estimate, residual)``, or a JobError saying what it returned instead."""
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor)):
        raise JobError(f"{label} returned {type(out).__name__} at {where}; a solver step returns "
                       "(estimate tensor, residual).")
    x, residual = out
    if tuple(x.shape) != shape:
        raise JobError(f"{label} returned an estimate of shape {tuple(x.shape)} at {where}; this measurement "
                       f"needs (B, H, W) = {shape}.")
    try:
        return x, float(residual)
    except (TypeError, ValueError):
        raise JobError(f"{label} returned the residual {residual!r} at {where}; it must be a number.") from None


@dataclass
class _Started:
    """One measurement's inputs on the device and its solver, built, not yet stepped."""

    index: int
    position: int
    y: torch.Tensor
    op: Cacti
    truth: torch.Tensor | None
    x0: torch.Tensor | None
    solver: Any
    seconds: float  # building the solver (it may compute a start)


def _start_measurement(job: Job, spec, settings, device: torch.device, mask: np.ndarray, index: int,
                       position: int) -> _Started:
    cap = job.capture
    y = torch.from_numpy(cap.measurements([index])[0]).to(device)
    valid = cap.valid_pixels([index])  # None, or 0 at saturated pixels: left out of the data term
    op = Cacti(torch.from_numpy(mask).to(device), None if valid is None else torch.from_numpy(valid[0]).to(device))
    truth_np = cap.ground_truth([index])
    truth = None if truth_np is None else torch.from_numpy(truth_np[0]).to(device)
    warm = None if job.warm_start is None else job.warm_start[position]
    x0 = None if warm is None else torch.from_numpy(np.ascontiguousarray(warm, dtype=np.float32)).to(device)
    state = None if x0 is None or job.warm_state is None else job.warm_state[position]
    # Grad mode is thread-local: enter inference mode per step, never across a ``yield``, or it
    # would leak into the consumer's code between events.
    with torch.inference_mode():
        t0 = time.perf_counter()
        solver = _guarded(lambda: spec.make_solver(op, y, settings, x0),  # timed: it may compute a start
                          f"{spec.label} could not start on measurement {index}")
        if state and hasattr(solver, "restore"):
            _guarded(lambda: solver.restore({k: torch.from_numpy(np.asarray(v)).to(device) for k, v in state.items()}),
                     f"{spec.label} could not continue measurement {index} from its saved state")
        _sync(device)
    return _Started(index, position, y, op, truth, x0, solver, time.perf_counter() - t0)


def _gave_up(solver: Any) -> bool:
    """The solver stopped short of its stopping rule (optional ``stopped()``, see algorithms.base.Solver)."""
    stopped = getattr(solver, "stopped", None)
    return bool(stopped()) if stopped is not None else False


def _run_measurement(job: Job, spec, device: torch.device, started: _Started, cancel: CancelToken | None,
                     trace: list) -> Iterator[Event]:
    index, position, y, op, truth, x0 = (started.index, started.position, started.y, started.op, started.truth,
                                         started.x0)
    solver, seconds, k_offset = started.solver, started.seconds, job.k_offset_at(position)
    last_good, residual, k, message = x0, math.nan, 0, None
    good_residual = math.nan  # the residual of last_good
    p = s = None
    safeguards: list[dict[str, Any]] = []  # the solver's stall safeguard actions (sci_viewer.solvers.safeguard)
    notes = list(getattr(solver, "notes", ()))
    for note in notes:
        yield NoticeEvent(job.job_id, f"{spec.label}, measurement {index}: {note}.", warning=False)
    for k in range(1, solver.max_iter + 1):
        if cancel is not None and cancel.is_set():
            k -= 1
            break
        with torch.inference_mode():
            t0 = time.perf_counter()
            where = f"iteration {k_offset + k} of measurement {index}"
            x, residual = _checked_step(_guarded(solver.step, f"{spec.label} failed at {where}"),
                                        spec.label, where, tuple(op.mask.shape))
            _sync(device)
            share = getattr(solver, "step_seconds", None)  # a joined solver's share of a batched step
            seconds += time.perf_counter() - t0 if share is None else share
            if not math.isfinite(residual) or not bool(torch.isfinite(x).all()):
                message = (f"stopped at iteration {k_offset + k}: the estimate became NaN/Inf "
                           "(the iteration diverged); kept the last finite estimate.")
                k -= 1
                residual = good_residual  # the result describes the estimate it keeps
                break
            last_good, good_residual = x, residual
            done = solver.converged() or k == solver.max_iter or _gave_up(solver)
            preview = done or k % max(1, job.preview_every) == 0
            p = s = dr = None
            if job.track_metrics:  # one A x: about 1/B of a GAP projection's work
                dr = data_residual(op.counted(y), op.counted(op.A(x)))  # saturated pixels left out
            if truth is not None and job.track_metrics:
                p = psnr(x, truth)
                if preview or k % max(1, job.ssim_every) == 0:
                    s = ssim(x, truth)
            estimate = x.float().cpu().numpy() if preview else None
        event = IterationEvent(job.job_id, index, position, k_offset + k, residual, p, s, estimate, seconds, dr,
                               getattr(solver, "tol", None))
        trace.append(IterationEvent(**{**event.__dict__, "estimate": None}))
        yield event
        for action in getattr(solver, "safeguards", ())[len(safeguards):]:
            safeguards.append({**action.as_dict(), "k": action.k + k_offset})
            yield NoticeEvent(job.job_id, f"{spec.label}, measurement {index}: {action.describe(k_offset)}.")
        if done:
            break
    with torch.inference_mode():
        if last_good is None:
            last_good = op.initial(y) if x0 is None else x0
        estimate = last_good.float().cpu().numpy()
        stopped = cancel is not None and cancel.is_set()
        if truth is not None and not stopped:
            p, s = psnr(last_good, truth), ssim(last_good, truth)
        elif truth is not None and p is None:  # stopped before any metric: PSNR is cheap
            p = psnr(last_good, truth)
        converged = bool(k > 0 and solver.converged())
        final_dr = data_residual(op.counted(y), op.counted(op.A(last_good)))
        # the state goes with the estimate: after a divergence the estimate is an older iterate
        kept = {k_: v.cpu().numpy() for k_, v in solver.state().items()} \
            if hasattr(solver, "state") and message is None and k > 0 else None
    yield MeasurementResult(index, estimate, p, s, seconds, k_offset + k, residual, converged, message, kept,
                            final_dr if math.isfinite(final_dr) else None, safeguards, notes)


def _run_group(job: Job, spec, settings, device: torch.device, mask: np.ndarray, group: list[tuple[int, int]],
               cancel: CancelToken | None, trace: list) -> Iterator[tuple[int, Event]]:
    """Measurements ``group`` ((position, index) pairs) solved as one batch; yields (position, event),
    the events of every measurement of the batch for each iteration."""
    started = [_start_measurement(job, spec, settings, device, mask, index, position) for position, index in group]
    with torch.inference_mode():
        joined = _guarded(lambda: spec.join_solvers([s.solver for s in started]),
                          f"{spec.label} could not solve measurements {[i for _, i in group]} together")
    for s, solver in zip(started, joined):
        s.solver = solver
    yield from round_robin({s.position: _run_measurement(job, spec, device, s, cancel, trace) for s in started},
                           IterationEvent)


def run_job(job: Job, cancel: CancelToken | None = None) -> Iterator[Event]:
    """Run ``job``; yield IterationEvent per iteration, MeasurementResult per measurement, and a
    final JobFinished (also when cancelled, with the measurements finished so far)."""
    spec = get_algorithm(job.algo)
    settings = spec.settings(**job.settings)
    mask = job.capture.mask_float()
    indices = job.capture.check_indices(job.measurements)
    for name, given in (("warm start", job.warm_start), ("warm state", job.warm_state),
                        ("k_offset", None if isinstance(job.k_offset, int) else job.k_offset)):
        if given is not None and len(given) != len(indices):
            raise JobError(f"{name} holds {len(given)} entries for {len(indices)} measurement(s).")
    device = resolve_device(job.device)
    finished: dict[int, MeasurementResult] = {}  # by position: a batch may finish them in any order
    trace: list[IterationEvent] = []
    size = batch_size(job.batch, spec, device, len(indices))
    pending = list(enumerate(indices))
    while pending and not (cancel is not None and cancel.is_set()):
        group, pending = pending[:size], pending[size:]
        if len(group) > 1:
            try:
                for position, event in _run_group(job, spec, settings, device, mask, group, cancel, trace):
                    if isinstance(event, MeasurementResult):
                        finished[position] = event
                    yield event
            except torch.OutOfMemoryError:
                left = [(p, i) for p, i in group if p not in finished]
                trace[:] = [e for e in trace if e.position not in {p for p, _ in left}]
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                yield NoticeEvent(job.job_id, f"{device} ran out of memory solving {len(group)} measurements "
                                              "together; solving them one at a time.")
                pending, size = left + pending, 1
            continue
        (position, index), = group
        while True:  # a second pass only after an accelerator ran out of memory
            try:
                started = _start_measurement(job, spec, settings, device, mask, index, position)
                for event in _run_measurement(job, spec, device, started, cancel, trace):
                    if isinstance(event, MeasurementResult):
                        finished[position] = event
                    yield event
                break
            except torch.OutOfMemoryError:
                if device.type == "cpu":
                    raise JobError(f"Out of memory reconstructing measurement {index} on the CPU.") from None
                torch.cuda.empty_cache()
                yield NoticeEvent(job.job_id, f"{device} ran out of memory on measurement {index}; "
                                              "continuing on the CPU.")
                device = torch.device("cpu")
                trace[:] = [e for e in trace if e.measurement != index]
    cancelled = bool(cancel is not None and cancel.is_set())
    results = [finished[p] for p in sorted(finished)]
    trace.sort(key=lambda e: e.position)  # stable: each measurement's iterations in order
    yield JobFinished(job.job_id, job.algo, str(device), results, cancelled, job.config(), trace)


def execute(job: Job, callback: Callable[[Event], None] | None = None,
            cancel: CancelToken | None = None) -> JobFinished:
    """Run ``job`` to the end, passing every event to ``callback``; return the final event."""
    final = None
    for event in run_job(job, cancel):
        if callback is not None:
            callback(event)
        if isinstance(event, JobFinished):
            final = event
    assert final is not None
    return final
