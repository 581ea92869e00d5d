"""The main window: puts the panels, views, plot and log together and shows the capture.

The parts live in their own modules: docks (:mod:`window_docks`), menus (:mod:`window_menus`),
opening files (:mod:`capture_loader`), runs (:mod:`run_orchestrator`), exports
(:mod:`export_actions`), the status line (:mod:`status_line`). All computing happens on workers
(loading, reconstruction, export); this window only reacts to their signals and redraws at a
bounded rate (:data:`REDRAW_MS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QTabWidget

from sci_viewer.capture import Capture
from sci_viewer.gui.capture_loader import CAPTURE_FILTER, CaptureLoader
from sci_viewer.gui.capture_panel import CapturePanel
from sci_viewer.gui.compare_view import NONE_KEY, CompareView
from sci_viewer.gui.convergence_plot import ConvergencePlot
from sci_viewer.gui.export_actions import ExportActions
from sci_viewer.gui.export_dialog import ExportDialog, ExportItem
from sci_viewer.gui.log_panel import LogPanel, log_file_path
from sci_viewer.gui.pg_config import configure_pyqtgraph
from sci_viewer.gui.run_controller import RunController
from sci_viewer.gui.run_orchestrator import RunOrchestrator, RunWidgets
from sci_viewer.gui.run_panel import RunPanel
from sci_viewer.gui.run_store import RunRecord
from sci_viewer.gui.settings_store import SettingsStore, isolated_settings
from sci_viewer.gui.status_line import StatusLine
from sci_viewer.gui.task_runner import TaskRunner
from sci_viewer.gui.video_view import RESIDUAL_SOURCE, VideoView
from sci_viewer.gui.view_data import TRUTH_KEY, ViewData, compare_sources
from sci_viewer.gui.window_docks import build_docks, default_dock_sizes, dock_toggle_button
from sci_viewer.gui.window_menus import MenuSlots, build_menus
from sci_viewer.gui.worker import TaskWorker

REDRAW_MS = 150
__all__ = ["MainWindow", "isolated_settings", "CAPTURE_FILTER", "REDRAW_MS"]


class MainWindow(QMainWindow):
    """The application window. ``settings``: a SettingsStore (tests pass one on a temp file)."""

    def __init__(self, settings: SettingsStore | None = None, log_file: Path | None = None) -> None:
        super().__init__()
        configure_pyqtgraph()
        self.setWindowTitle("sci_viewer — video snapshot compressive imaging")
        self.setAcceptDrops(True)
        self.store = settings or SettingsStore()
        self.capture: Capture | None = None
        self._dirty = False

        self.runs = RunController(self)
        self.tasks = TaskRunner(self)
        self.view_data = ViewData(self.runs)
        self.video = VideoView()
        self.compare = CompareView()
        self.plot = ConvergencePlot()
        self.capture_panel = CapturePanel()
        self.run_panel = RunPanel()
        self.log = LogPanel(log_file=log_file if log_file is not None else log_file_path())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.video, "Video")
        self.tabs.addTab(self.compare, "Compare")
        self.setCentralWidget(self.tabs)
        self._docks = build_docks(self, self.capture_panel, self.run_panel, self.plot, self.log)
        self.plot_toggle = dock_toggle_button(self._docks["convergence"], "Convergence plot",
                                              "Show or fold away the convergence plot (its width goes to the views)")
        self.tabs.setCornerWidget(self.plot_toggle, Qt.Corner.TopRightCorner)
        self.status_line = StatusLine()
        self.status_label, self.progress = self.status_line.label, self.status_line.progress
        self.statusBar().addWidget(self.status_line, 1)

        self.loader = CaptureLoader(self, self.tasks, self.store, self.log, self.status_line,
                                    lambda: self.capture, self.set_capture, self.show_error)
        self.run_control = RunOrchestrator(
            self, self.runs, RunWidgets(self.run_panel, self.plot, self.video, self.compare, self.status_line, self.log),
            self.store, lambda: self.capture, self.show_error, self._update_compare_sources, self._mark_dirty)
        self.exports = ExportActions(self, self.runs.store, self.run_panel, self.compare, self.plot, self.store,
                                     self.log, lambda: self.capture, self.video.fps, self.show_error,
                                     lambda text: self.statusBar().showMessage(text, 15000), self.set_scale)
        menus = build_menus(self, MenuSlots(
            choose_capture=self.loader.choose_capture, choose_mask=self.loader.choose_mask,
            load_demo=self.load_demo, export=self.show_export_dialog, export_plot=self.exports.export_plot,
            save_config=self.exports.choose_save_config, load_config=self.exports.choose_load_config,
            quit=self.close, run=self.start_run, stop=self.stop_run, continue_run=self.continue_run,
            clear=self.clear_runs), self._docks.values())
        self.recent_menu = menus.recent_menu
        self.run_action, self.stop_action, self.continue_action = menus.run, menus.stop, menus.continue_run
        self.loader.set_recent_menu(self.recent_menu)
        self.capture_panel.attach(self.tasks, self.set_capture, self.show_error)  # dark frame, saturation
        self._connect()
        self._restore_settings()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._redraw_timer.start()
        self.video.set_provider(self.view_data.video, 0)
        self.compare.set_provider(self.view_data.compare, 0)
        self._report_plugin_errors()

    # -- construction ------------------------------------------------------------------------
    def _report_plugin_errors(self) -> None:
        from sci_viewer.plugins import load_errors

        for path, error in load_errors.items():
            self.log.warning(f"plugin {path} was not loaded as it is: {error}")
        if load_errors:
            names = ", ".join(Path(p).name for p in load_errors)
            self.statusBar().showMessage(f"plugin problem(s) in {names}: see the log", 30000)

    def _connect(self) -> None:
        self.capture_panel.sigScaleChanged.connect(self.set_scale)
        self.capture_panel.sigOpenCapture.connect(self.loader.choose_capture)
        self.capture_panel.sigOpenMask.connect(self.loader.choose_mask)
        self.run_panel.sigRun.connect(self.start_run)
        self.run_panel.sigStop.connect(self.stop_run)
        self.run_panel.sigContinue.connect(self.continue_run)
        self.run_panel.sigAlgorithmChanged.connect(self._algorithm_changed)
        self.runs.sigNotice.connect(self._notice)
        self.runs.sigInfo.connect(self._info)
        self.runs.sigError.connect(lambda msg, det, refusal=False: self.show_error("Reconstruction failed", msg, det,
                                                                                   refusal))
        self.plot.png_button.clicked.connect(lambda: self.exports.export_plot("png"))
        self.plot.csv_button.clicked.connect(lambda: self.exports.export_plot("csv"))
        self.video.sigColormapChanged.connect(self._colormap_changed)
        self.video.sigFpsChanged.connect(self.store.set_fps)
        self.tabs.currentChanged.connect(lambda _: self._mark_dirty())

    def _restore_settings(self) -> None:
        geometry, state = self.store.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        if state is not None:
            self.restoreState(state)
        else:
            default_dock_sizes(self, self._docks)
        self.video.set_fps(self.store.fps())
        self.video.set_colormap(self.store.colormap())
        self.run_panel.set_algorithm(self.store.last_algorithm())
        self._algorithm_changed(self.run_panel.algorithm())

    # -- errors and messages -----------------------------------------------------------------
    def show_error(self, title: str, message: str, details: str = "", refusal: bool = False) -> None:
        """Log the problem and tell the operator in a dialog (the session stays as it was).

        ``refusal``: an expected one (a file or setting we refuse): the panel shows the message and
        the traceback goes to the log file only; an unexpected exception shows its traceback too."""
        self.log.error(f"{title}: {message}", details, show_details=not refusal)
        self.status_line.set_text(f"{title}: {message}")
        QMessageBox.critical(self, title, message)

    def _notice(self, message: str) -> None:
        self.log.warning(message)
        self.statusBar().showMessage(message, 8000)

    def _info(self, message: str) -> None:
        self.log.info(message)
        self.statusBar().showMessage(message, 8000)

    # -- opening files (see CaptureLoader) ---------------------------------------------------
    def busy_tasks(self) -> int:
        """Background loads not finished yet."""
        return self.tasks.busy()

    def open_capture(self, path: str | Path, mask_path: str | Path | None = None) -> TaskWorker:
        """Load a capture (and optionally its mask) on a worker; on success it replaces the current one."""
        return self.loader.open_capture(path, mask_path)

    def open_mask(self, path: str | Path) -> TaskWorker | None:
        return self.loader.open_mask(path)

    def load_demo(self) -> TaskWorker:
        return self.loader.load_demo()

    def open_dropped(self, paths: list[str]) -> None:
        """One file: a capture (or a mask, if its name says so and a capture is open); two: capture + mask."""
        self.loader.open_dropped(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths)

    # -- the capture -------------------------------------------------------------------------
    def set_capture(self, capture: Capture) -> None:
        """Show ``capture``. A new source file clears the runs; a new mask or scale keeps them."""
        same_source = self.capture is not None and self.capture.source == capture.source
        if self.runs.is_running():
            self.runs.stop()
            self.log.info("stopped the running reconstruction: the capture changed")
        self.capture = capture
        self.view_data.set_capture(capture)
        if not same_source:
            self.clear_runs()
            self.run_panel.set_capture(capture)
        self.capture_panel.set_capture(capture)
        self.plot.show_quality(capture.has_truth)
        self.video.set_provider(self.view_data.video, capture.n_meas)
        self.compare.set_provider(self.view_data.compare, capture.n_meas)
        self._update_compare_sources()
        if not self.runs.store.runs():
            self.video.set_source("Measurement" if capture.mask is None else
                                  "Ground truth" if capture.has_truth else "Measurement")
        self.video.refresh_data(reset_levels=True)
        self.video.fit()
        self.compare.fit()
        d = capture.describe()
        self.log.info(f"loaded {capture.name}: {d['measurements']} measurement(s), B={d['frames_per_measurement']}, "
                      f"{d['frame_size'][0]}x{d['frame_size'][1]}, scale {d['scale']}"
                      + (", ground truth" if capture.has_truth else ""))
        for note in d["notes"]:  # how the file was read (layout, B, frames used); negatives, dark, saturation
            self.log.info(f"{capture.name}: {note}")
        self.statusBar().clearMessage()   # a notice about the previous capture no longer applies
        if capture.mask is None:
            self._notice(f"{capture.name} has no mask: open one (File > Open mask) to reconstruct.")
        self.status_line.set_text(f"{capture.name} loaded")

    def set_scale(self, scale: str) -> None:
        if self.capture is None or self.capture.scale.value == scale:
            return
        try:
            self.set_capture(self.capture.with_scale(scale))
        except Exception as exc:  # noqa: BLE001 - a refused scale must not lose the capture
            self.show_error("Cannot change the scale", str(exc), "", True)
            self.capture_panel.set_capture(self.capture)
        else:
            self.log.info(f"scale convention set to {scale}")

    # -- running (see RunOrchestrator) -------------------------------------------------------
    def start_run(self) -> RunRecord | None:
        return self.run_control.start()

    def stop_run(self) -> None:
        self.run_control.stop()

    def continue_run(self) -> RunRecord | None:
        return self.run_control.continue_run()

    def clear_runs(self) -> None:
        self.run_control.clear()

    # -- data for the views ------------------------------------------------------------------
    def _update_compare_sources(self, default_panes: bool = False) -> None:
        has_truth = self.capture is not None and self.capture.has_truth
        sources, picks = compare_sources(self.runs, has_truth, default_panes or self.compare.pane_key(0) == NONE_KEY)
        # one redraw: on 512 x 512 x 10 videos each costs ~25 ms of the GUI thread
        self.compare.set_sources(sources, TRUTH_KEY if has_truth else None, picks)

    # -- bounded-rate redraw -----------------------------------------------------------------
    def _mark_dirty(self) -> None:
        self._dirty = True

    def _redraw(self) -> None:
        self.run_control.tick()
        if not self._dirty:
            return
        self._dirty = False
        if self.tabs.currentWidget() is self.video:
            if self.video.source() in ("Estimate", RESIDUAL_SOURCE):
                self.video.refresh_data()
        else:
            self.compare.refresh_data()

    # -- export and configurations (see ExportActions) ---------------------------------------
    def export_items(self) -> list[ExportItem]:
        """Each finished run, and the ground truth of each set of measurements those runs show."""
        return self.exports.export_items()

    def show_export_dialog(self) -> ExportDialog | None:
        return self.exports.show_export_dialog()

    def run_config(self) -> dict[str, Any]:
        """The run panel's choices plus where the capture came from (as saved in YAML)."""
        return self.exports.run_config()

    def save_config(self, path: str | Path) -> None:
        self.exports.save_config(path)

    def load_config(self, path: str | Path) -> None:
        self.exports.load_config(path)

    # -- settings ----------------------------------------------------------------------------
    def _algorithm_changed(self, algo: str) -> None:
        defaults = self.store.algorithm_defaults(algo)
        if defaults:
            self.run_panel.set_defaults(algo, defaults)

    def _colormap_changed(self, name: str) -> None:
        self.store.set_colormap(name)
        self.compare.set_colormap(name)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.runs.stop()
        self.runs.wait()
        self.tasks.shutdown()
        for dialog in self.findChildren(ExportDialog):
            dialog.close()  # stops and joins a running export
        self.store.set_window_state(self.saveGeometry(), self.saveState())
        self.store.sync()
        super().closeEvent(event)
