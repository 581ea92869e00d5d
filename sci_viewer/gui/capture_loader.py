"""Opening captures and masks for the window: file dialogs, the recent-files menu, drag-and-drop,
and the background loads (each on a worker; the result is handed to ``show(capture)`` on the GUI
thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from sci_viewer.capture import Capture
from sci_viewer.gui.log_panel import LogPanel
from sci_viewer.gui.settings_store import SettingsStore
from sci_viewer.gui.status_line import StatusLine
from sci_viewer.gui.task_runner import TaskRunner, demo_task, load_capture_task, load_mask_task
from sci_viewer.gui.worker import TaskWorker

CAPTURE_FILTER = "Captures (*.mat *.npz *.npy *.h5 *.hdf5 *.tif *.tiff);;All files (*)"
ErrorReport = Callable[[str, str, str, bool], None]  # (title, message, details, refusal)


class CaptureLoader(QObject):
    """Loads captures and masks; ``current()`` is the capture shown, ``show(capture)`` shows one."""

    def __init__(self, parent: QWidget, tasks: TaskRunner, store: SettingsStore, log: LogPanel,
                 status: StatusLine, current: Callable[[], Capture | None], show: Callable[[Capture], None],
                 report_error: ErrorReport) -> None:
        super().__init__(parent)
        self._dialog_parent = parent
        self.tasks, self.store, self.log, self.status = tasks, store, log, status
        self._current, self._show, self._report = current, show, report_error
        self.recent_menu: QMenu | None = None

    def _handler(self, title: str) -> Callable[..., None]:
        return lambda message, details, refusal=False: self._report(title, message, details, refusal)

    # -- dialogs -----------------------------------------------------------------------------
    def choose_capture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._dialog_parent, "Open capture",
                                              self.store.last_folder("capture"), CAPTURE_FILTER)
        if path:
            self.open_capture(path)

    def choose_mask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._dialog_parent, "Open mask", self.store.last_folder("mask"),
                                              CAPTURE_FILTER)
        if path:
            self.open_mask(path)

    # -- loading -----------------------------------------------------------------------------
    def open_capture(self, path: str | Path, mask_path: str | Path | None = None) -> TaskWorker:
        """Load a capture (and optionally its mask) on a worker; on success it replaces the current one."""
        path = Path(path)
        self.log.info(f"opening {path}" + (f" with mask {mask_path}" if mask_path else ""))
        self.status.set_text(f"loading {path.name} …")
        self.store.set_last_folder("capture", path)

        def loaded(capture: Capture) -> None:
            self.store.add_recent_file(path)
            self.update_recent_menu()
            self._show(capture)

        failed = self._handler(f"Cannot open {path.name}")

        def not_loaded(message: str, details: str, refusal: bool = False) -> None:
            if not path.exists() and str(path.resolve()) in self.store.recent_files():
                self.store.remove_recent_file(path)  # gone: no longer offered under Open recent
                self.update_recent_menu()
            failed(message, details, refusal)

        return self.tasks.submit(load_capture_task(path, Path(mask_path) if mask_path else None), loaded, not_loaded)

    def open_mask(self, path: str | Path) -> TaskWorker | None:
        path = Path(path)
        capture = self._current()
        if capture is None:
            self._report("No capture", "Open a capture before its mask.", "", True)
            return None
        self.store.set_last_folder("mask", path)
        self.log.info(f"opening mask {path}")
        return self.tasks.submit(load_mask_task(capture, path), self._show,
                                 self._handler(f"Cannot use the mask {path.name}"))

    def load_demo(self) -> TaskWorker:
        return self.tasks.submit(demo_task(), self._show, self._handler("Cannot make the demo capture"))

    def open_dropped(self, paths: list[str]) -> None:
        """One file: a capture (or a mask, if its name says so and a capture is open); two: capture + mask."""
        masks = [p for p in paths if "mask" in Path(p).name.lower()]
        others = [p for p in paths if p not in masks]
        left = others[1:] + masks[1:]
        if left:
            self.log.warning(f"One capture at a time: not opened {', '.join(Path(p).name for p in left)}.")
        if others:
            self.open_capture(others[0], mask_path=masks[0] if masks else None)
        elif masks and self._current() is not None:
            self.open_mask(masks[0])
        elif masks:
            self.open_capture(masks[0])

    # -- recent files ------------------------------------------------------------------------
    def set_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        self.update_recent_menu()

    def update_recent_menu(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        files = self.store.recent_files()
        for path in files:
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_capture(p))
        menu.setEnabled(bool(files))
