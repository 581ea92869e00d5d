"""Background tasks of the window (loading files, making the demo): each on its own worker
thread, results and errors delivered on the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread

from sci_viewer.capture import Capture
from sci_viewer.engine import CancelToken
from sci_viewer.gui.worker import TaskRelay, TaskWorker, join_thread, start_worker

Task = Callable[[Callable[[int, int], None], CancelToken], Any]


class TaskRunner(QObject):
    """Starts tasks and keeps them alive until their threads end."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._tasks: dict[TaskWorker, QThread] = {}

    def submit(self, fn: Task, on_result: Callable[[Any], None],
               on_error: Callable[[str, str, bool], None]) -> TaskWorker:
        """Run ``fn`` on a worker; ``on_result(value)`` or ``on_error(message, traceback, refusal)``
        is called on the GUI thread."""
        worker = TaskWorker(fn)
        relay = TaskRelay(self, worker, on_result, on_error, lambda: self._tasks.pop(worker, None))
        self._tasks[worker] = start_worker(worker, self, relay.finished)
        return worker

    def busy(self) -> int:
        """How many tasks have not ended yet."""
        return len(self._tasks)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Ask every task to stop and wait for their threads."""
        for worker, worker_thread in list(self._tasks.items()):
            try:
                worker.stop()
            except RuntimeError:  # already deleted by Qt: it had finished
                continue
            join_thread(worker_thread, timeout_s)


def load_capture_task(path: Path, mask_path: Path | None) -> Task:
    def load(progress, cancel) -> Capture:
        from sci_viewer.io import load_capture

        return load_capture(path, mask_path=mask_path)

    return load


def load_mask_task(capture: Capture, path: Path) -> Task:
    def load(progress, cancel) -> Capture:
        from dataclasses import replace

        from sci_viewer.io import load_mask

        # A longer calibration file (e.g. 50 frames) for a capture named "..._cr_10": its first B,
        # as the command line does; a mask of fewer frames is used whole. The notes say which.
        notes: list[str] = []
        mask = load_mask(path, frames_hint=capture.source, notes=notes)
        return replace(capture.with_mask(mask, str(path)), notes=(*capture.notes, *notes))

    return load


def demo_task() -> Task:
    def make(progress, cancel) -> Capture:
        from sci_viewer.demo import demo_capture

        return demo_capture()

    return make
