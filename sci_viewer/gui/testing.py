"""Helpers for driving the real window in tests (pytest-qt's ``qtbot``, offscreen).

Used by ``tests/test_gui*.py``; kept in the package so plugin authors can test against the app too.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from sci_viewer.gui.main_window import MainWindow
from sci_viewer.gui.pg_config import configure_pyqtgraph
from sci_viewer.gui.settings_store import isolated_settings

RUN_TIMEOUT_MS = 60_000


class DialogRecorder:
    """Stands in for QMessageBox.critical/warning: records (title, text) instead of blocking."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, parent, title, text, *args, **kwargs):
        self.calls.append((str(title), str(text)))
        return QMessageBox.StandardButton.Ok


def make_window(qtbot, tmp_path: Path, monkeypatch) -> tuple[MainWindow, DialogRecorder]:
    """A shown MainWindow with settings and log in ``tmp_path``; error dialogs are recorded."""
    configure_pyqtgraph()
    dialogs = DialogRecorder()
    monkeypatch.setattr(QMessageBox, "critical", dialogs)
    monkeypatch.setattr(QMessageBox, "warning", dialogs)
    window = MainWindow(settings=isolated_settings(tmp_path / "settings.ini"), log_file=tmp_path / "gui.log")
    qtbot.addWidget(window)
    window.show()
    return window, dialogs


def run_and_wait(qtbot, window: MainWindow, timeout: int = RUN_TIMEOUT_MS, start=None):
    """Start a run (``start`` or window.start_run) and wait until its worker thread has ended."""
    start = start or window.start_run
    with qtbot.waitSignal(window.runs.sigIdle, timeout=timeout):
        record = start()
        assert record is not None, "the run did not start"
    return record


def start_then_stop(qtbot, window: MainWindow, points: int):
    """Start a run, press Stop once it has ``points`` iterations; return the run record and the
    seconds from Stop until the app was idle again."""
    import time

    with qtbot.waitSignal(window.runs.sigIdle, timeout=RUN_TIMEOUT_MS):
        record = window.start_run()
        qtbot.waitUntil(lambda: window.plot.point_count(record.run_id) >= points, timeout=RUN_TIMEOUT_MS)
        t0 = time.perf_counter()
        window.stop_run()
    return record, time.perf_counter() - t0


def load_and_wait(qtbot, window: MainWindow, path, **kwargs) -> None:
    before = window.capture
    window.open_capture(path, **kwargs)
    qtbot.waitUntil(lambda: window.busy_tasks() == 0 and window.capture is not before, timeout=RUN_TIMEOUT_MS)
