"""Background workers. They run on a QThread, never touch widgets, and only emit signals.

- :class:`JobWorker` runs one reconstruction :class:`~sci_viewer.engine.Job` through
  :func:`~sci_viewer.engine.run_job` and forwards each event as a signal.
- :class:`TaskWorker` runs any callable ``fn(progress, cancel)`` (loading a file, an export).

Use :func:`start_worker` to move a worker onto a new thread and start it; connect the worker's
signals *before* calling it (tests: set up ``qtbot.waitSignal`` before starting).
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from sci_viewer.engine import CancelToken, IterationEvent, Job, JobFinished, MeasurementResult, NoticeEvent, run_job
from sci_viewer.errors import SciViewerError


def describe_exception(exc: BaseException) -> str:
    """One operator-readable sentence for ``exc`` (our own errors already are one)."""
    if isinstance(exc, SciViewerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def is_refusal(exc: BaseException) -> bool:
    """True for an expected refusal (a :class:`SciViewerError`: a file we cannot read, settings we
    refuse): the operator needs its message; its traceback belongs in the log file only."""
    return isinstance(exc, SciViewerError)


def hand_back_to_gui_thread(worker: QObject) -> None:
    """Move ``worker`` (from its own thread) back to the GUI thread before that thread ends, so its
    deferred deletion runs on the GUI thread. Deleted on the worker thread, its destructor waits for
    the GIL while holding one of Qt's signal locks, and the GUI thread, holding the GIL, can wait for
    that lock to emit a signal: a deadlock the GUI tests hit once."""
    app = QCoreApplication.instance()
    if app is not None:
        worker.moveToThread(app.thread())


class JobWorker(QObject):
    """Runs a reconstruction job; emits one signal per engine event.

    Signals
    -------
    sigIteration(IterationEvent), sigMeasurement(MeasurementResult), sigNotice(NoticeEvent),
    sigFinished(JobFinished), sigError(message, traceback, refusal) (``refusal``: see
    :func:`is_refusal`), and sigDone() last, always.
    """

    sigIteration = Signal(object)
    sigMeasurement = Signal(object)
    sigNotice = Signal(object)
    sigFinished = Signal(object)
    sigError = Signal(str, str, bool)
    sigDone = Signal()

    def __init__(self, job: Job, runner: Callable[..., Any] = run_job) -> None:
        super().__init__()
        self.job = job
        self.cancel_token = CancelToken()
        self._runner = runner

    def stop(self) -> None:
        """Ask the job to stop; honoured between iterations (thread-safe)."""
        self.cancel_token.cancel()

    @Slot()
    def process(self) -> None:
        try:
            for event in self._runner(self.job, self.cancel_token):
                if isinstance(event, IterationEvent):
                    self.sigIteration.emit(event)
                elif isinstance(event, MeasurementResult):
                    self.sigMeasurement.emit(event)
                elif isinstance(event, NoticeEvent):
                    self.sigNotice.emit(event)
                elif isinstance(event, JobFinished):
                    self.sigFinished.emit(event)
        except Exception as exc:  # noqa: BLE001 - every fault must reach the user, not kill the thread
            self.sigError.emit(describe_exception(exc), traceback.format_exc(), is_refusal(exc))
        finally:
            hand_back_to_gui_thread(self)
            self.sigDone.emit()


class TaskWorker(QObject):
    """Runs ``fn(progress, cancel)`` in the background.

    ``progress(done, total)`` may be called from ``fn``; ``cancel`` is a
    :class:`~sci_viewer.engine.CancelToken`. Emits sigProgress(done, total), sigResult(value) or
    sigError(message, traceback, refusal), then sigDone().
    """

    sigProgress = Signal(int, int)
    sigResult = Signal(object)
    sigError = Signal(str, str, bool)
    sigDone = Signal()

    def __init__(self, fn: Callable[[Callable[[int, int], None], CancelToken], Any]) -> None:
        super().__init__()
        self._fn = fn
        self.cancel_token = CancelToken()

    def stop(self) -> None:
        self.cancel_token.cancel()

    @Slot()
    def process(self) -> None:
        try:
            value = self._fn(lambda done, total: self.sigProgress.emit(int(done), int(total)), self.cancel_token)
            self.sigResult.emit(value)
        except Exception as exc:  # noqa: BLE001
            self.sigError.emit(describe_exception(exc), traceback.format_exc(), is_refusal(exc))
        finally:
            hand_back_to_gui_thread(self)
            self.sigDone.emit()


_running: set[QThread] = set()  # threads start_worker started, pruned by running_threads()


def running_threads() -> list[QThread]:
    """The worker threads started by :func:`start_worker` that have not finished yet (tests wait
    for none to be left before Qt objects of a finished test are deleted)."""
    for worker_thread in list(_running):
        try:
            if worker_thread.isRunning():
                continue
        except RuntimeError:  # deleted by its deleteLater: it had finished
            pass
        _running.discard(worker_thread)
    return list(_running)


def start_worker(worker: JobWorker | TaskWorker, parent: QObject,
                 on_finished: Callable[[], None] | None = None) -> QThread:
    """Move ``worker`` to a new QThread owned by ``parent``, start it and return the thread.

    The thread quits when the worker is done and then deletes itself and the worker (which has
    moved back to the GUI thread by then, see :func:`hand_back_to_gui_thread`).
    ``on_finished`` (a bound method of a GUI-thread QObject, so it runs on the GUI thread) is
    connected to the thread's ``finished`` signal *before* the thread starts: a fast task cannot
    finish unnoticed. Drop your references to the worker and thread there.
    """
    worker_thread = QThread(parent)
    worker.moveToThread(worker_thread)
    worker_thread.started.connect(worker.process)
    # Direct: the worker thread ends its own loop, so no GUI-thread event is needed to finish.
    worker.sigDone.connect(worker_thread.quit, Qt.ConnectionType.DirectConnection)
    _running.add(worker_thread)
    worker_thread.finished.connect(worker.deleteLater)
    worker_thread.finished.connect(worker_thread.deleteLater)
    if on_finished is not None:
        worker_thread.finished.connect(on_finished)
    worker_thread.start()
    return worker_thread


class TaskRelay(QObject):
    """Delivers a :class:`TaskWorker`'s result/error to plain callables **on the GUI thread**.

    (A lambda or closure connected directly to a worker's signal runs on the worker thread in
    PySide6; a bound method of a QObject living on the GUI thread is queued to it.)
    """

    def __init__(self, parent: QObject, worker: TaskWorker, on_result: Callable[[Any], None],
                 on_error: Callable[[str, str, bool], None], on_finished: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self._on_result, self._on_error, self._on_finished = on_result, on_error, on_finished
        worker.sigResult.connect(self.result)
        worker.sigError.connect(self.error)

    def result(self, value: Any) -> None:
        self._on_result(value)

    def error(self, message: str, details: str, refusal: bool = False) -> None:
        self._on_error(message, details, refusal)

    def finished(self) -> None:
        if self._on_finished is not None:
            self._on_finished()
        self.deleteLater()


def join_thread(worker_thread: QThread | None, timeout_s: float = 30.0) -> bool:
    """Wait for ``worker_thread`` to end; True if it has.

    Unlike ``QThread.wait`` (which keeps Python's GIL, so a worker that needs it can never
    finish), this polls with ``time.sleep``, letting the worker run.
    """
    if worker_thread is None:
        return True
    deadline = time.monotonic() + timeout_s
    try:
        while worker_thread.isRunning():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
    except RuntimeError:  # the C++ object is gone: the thread had finished and been deleted
        return True
    return True
