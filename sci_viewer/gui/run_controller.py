"""Starts, stops and continues reconstruction jobs on a worker thread, and keeps the runs.

The controller lives on the GUI thread; it only receives the worker's signals. Events from a job
other than the current one (a run stopped and immediately replaced) are ignored, so two runs
started back to back never mix.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QElapsedTimer, QObject, QThread, Signal

from sci_viewer.algorithms import get_algorithm
from sci_viewer.capture import Capture
from sci_viewer.engine import IterationEvent, Job, JobFinished, MeasurementResult, NoticeEvent
from sci_viewer.errors import JobError
from sci_viewer.gui.run_store import RunRecord, RunStore
from sci_viewer.gui.worker import JobWorker, join_thread, start_worker

# Every n-th iteration carries an estimate for the live view. The engine also computes SSIM on
# those iterations (it costs ~20x a GAP-TV step at 256x256x8), so this is kept at 5, not lower.
PREVIEW_EVERY = 5


def iteration_budget(settings: dict[str, Any]) -> int:
    """Iterations a run of these settings may take per measurement (0 if unknown)."""
    for key in ("iterations", "max_iter"):
        if isinstance(settings.get(key), int):
            return int(settings[key])
    return 0


class RunController(QObject):
    """Owns the job worker. Signals: sigStarted(record), sigIteration(record, event),
    sigMeasurement(record, result), sigNotice(message) for a problem, sigInfo(message) for information
    (e.g. the noise DE-GAP estimated), sigFinished(record),
    sigError(message, details, refusal), sigIdle() once the worker thread has ended."""

    sigStarted = Signal(object)
    sigIteration = Signal(object, object)
    sigMeasurement = Signal(object, object)
    sigNotice = Signal(str)
    sigInfo = Signal(str)
    sigFinished = Signal(object)
    sigError = Signal(str, str, bool)
    sigIdle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = RunStore()
        self.current: RunRecord | None = None
        self.elapsed = QElapsedTimer()
        self._worker: JobWorker | None = None
        self._worker_thread: QThread | None = None
        self._job_id: int | None = None
        self._job: Job | None = None
        self.runner = None  # tests may replace the engine's run_job (fault injection)

    # -- state -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._worker_thread is not None

    def k_offset(self, position: int) -> int:
        """Iterations the measurement at ``position`` had before the current job (continued runs)."""
        return self._job.k_offset_at(position) if self._job is not None else 0

    def wait(self, ms: int = 30000) -> bool:
        """Block until the worker thread ended (for shutdown); see :func:`join_thread`."""
        return join_thread(self._worker_thread, ms / 1000)

    # -- commands ----------------------------------------------------------------------------
    def start(self, capture: Capture, algo: str, settings: dict[str, Any], device: str,
              measurements: list[int]) -> RunRecord:
        """Start a new run; raise SciViewerError (nothing started) if it cannot run."""
        if self.is_running():
            raise JobError("A reconstruction is already running; stop it first.")
        capture.require_mask()
        spec = get_algorithm(algo)
        spec.settings(**settings)  # refuse bad settings before starting
        indices = capture.check_indices(measurements or None)
        record = self.store.new_run(algo, spec.label, dict(settings), device, indices, capture)
        self._launch(record, Job(capture, algo, dict(settings), device=device, measurements=indices,
                                 preview_every=PREVIEW_EVERY))
        return record

    def continue_run(self, record: RunRecord, settings: dict[str, Any] | None = None) -> RunRecord:
        """Iterate each measurement of ``record`` further from its estimate (and solver state), its
        iteration numbers continuing from its own; a measurement a stop left without an estimate
        starts afresh."""
        if self.is_running():
            raise JobError("A reconstruction is already running; stop it first.")
        if not record.can_continue:
            raise JobError(f"{record.label} has no estimate to continue from.")
        settings = dict(settings or record.settings)
        get_algorithm(record.algo).settings(**settings)  # refuse bad settings before changing the run
        ms = record.measurements
        warm = [record.estimates.get(m) for m in ms]
        states = [record.results[m].state if m in record.results and m in record.estimates else None for m in ms]
        offsets = [record.k_done.get(m, 0) if record.estimates.get(m) is not None else 0 for m in ms]
        record.settings = settings
        record.finished = record.cancelled = False
        self._launch(record, Job(record.capture, record.algo, settings, device=record.device,
                                 measurements=ms, preview_every=PREVIEW_EVERY,
                                 warm_start=warm, warm_state=states, k_offset=offsets))
        return record

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    def _launch(self, record: RunRecord, job: Job) -> None:
        self.current = record
        self._job_id = job.job_id
        self._job = job
        record.job_ids.append(job.job_id)
        worker = JobWorker(job) if self.runner is None else JobWorker(job, self.runner)
        worker.sigIteration.connect(self._on_iteration)
        worker.sigMeasurement.connect(self._on_measurement)
        worker.sigNotice.connect(self._on_notice)
        worker.sigFinished.connect(self._on_finished)
        worker.sigError.connect(self._on_error)
        self._worker = worker
        self.elapsed.start()
        self._worker_thread = start_worker(worker, self, self._on_thread_finished)
        self.sigStarted.emit(record)

    # -- worker signals ----------------------------------------------------------------------
    def _mine(self, job_id: int) -> bool:
        return job_id == self._job_id and self.current is not None

    def _on_iteration(self, event: IterationEvent) -> None:
        if not self._mine(event.job_id):
            return
        record = self.current
        if event.estimate is not None:
            record.estimates[event.measurement] = event.estimate
        record.note_iteration(event.measurement, event.k)
        self.sigIteration.emit(record, event)

    def _on_measurement(self, result: MeasurementResult) -> None:
        # (A MeasurementResult carries no job id; a new job starts only after the previous
        # worker thread ended, and its events are delivered in order before that, so it is ours.)
        record = self.current
        if record is None or self._job_id is None:
            return
        record.results[result.index] = result
        record.estimates[result.index] = result.estimate
        if result.message:
            self.sigNotice.emit(f"{record.label}, measurement {result.index}: {result.message}")
        self.sigMeasurement.emit(record, result)

    def _on_notice(self, event: NoticeEvent) -> None:
        if self._mine(event.job_id):
            (self.sigNotice if event.warning else self.sigInfo).emit(event.message)

    def _on_finished(self, final: JobFinished) -> None:
        if not self._mine(final.job_id):
            return
        record = self.current
        record.finish(final)
        self.sigFinished.emit(record)

    def _on_error(self, message: str, details: str, refusal: bool = False) -> None:
        if self.current is not None:
            self.current.failed = message
            self.current.finished = True
        self.sigError.emit(message, details, refusal)

    def _on_thread_finished(self) -> None:
        self._worker = None
        self._worker_thread = None
        self._job_id = None
        self.sigIdle.emit()
