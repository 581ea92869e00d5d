"""The main window: capture and run panels, video and compare views, convergence plot, log.

All computing happens on workers (loading, reconstruction, export); this window only reacts to
their signals and redraws at a bounded rate (:data:`REDRAW_MS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QScrollArea, QTabWidget, QWidget)

from sci_viewer.capture import Capture
from sci_viewer.engine import IterationEvent
from sci_viewer.gui.app import configure_pyqtgraph
from sci_viewer.gui.capture_panel import CapturePanel
from sci_viewer.gui.compare_view import DIFF_KEY, CompareView
from sci_viewer.gui.convergence_plot import ConvergencePlot
from sci_viewer.gui.export_dialog import ExportDialog, ExportItem
from sci_viewer.gui.log_panel import LogPanel, log_file_path
from sci_viewer.gui.run_controller import RunController, iteration_budget
from sci_viewer.gui.run_panel import RunPanel
from sci_viewer.gui.run_store import RunRecord
from sci_viewer.gui.settings_store import SettingsStore, load_run_config, save_run_config
from sci_viewer.gui.task_runner import TaskRunner, demo_task, load_capture_task, load_mask_task
from sci_viewer.gui.video_view import VideoView
from sci_viewer.gui.view_data import TRUTH_KEY, ViewData
from sci_viewer.gui.worker import TaskWorker

REDRAW_MS = 150
CAPTURE_FILTER = "Captures (*.mat *.npz *.npy *.h5 *.hdf5 *.tif *.tiff);;All files (*)"


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
        self._status_text = ""

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
        self._docks = {name: self._dock(title, widget, area) for name, title, widget, area in (
            ("capture", "Capture", self.capture_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("run", "Run", self.run_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("convergence", "Convergence", self.plot, Qt.DockWidgetArea.RightDockWidgetArea),
            ("log", "Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea))}
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.status_label = QLabel("ready")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self._build_menus()
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

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        if isinstance(widget, (CapturePanel, RunPanel)):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setWidget(widget)
            widget = scroll
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot: Callable, shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "&Open capture…", self.choose_capture, QKeySequence.StandardKey.Open)
        self._action(f, "Open &mask…", self.choose_mask, "Ctrl+M")
        self.recent_menu = f.addMenu("Open &recent")
        self._action(f, "Open &demo capture", self.load_demo)
        f.addSeparator()
        self._action(f, "&Export…", self.show_export_dialog, "Ctrl+E")
        self._action(f, "Export plot as PNG…", lambda: self._export_plot("png"))
        self._action(f, "Export plot data as CSV…", lambda: self._export_plot("csv"))
        f.addSeparator()
        self._action(f, "&Save run configuration…", self.choose_save_config, "Ctrl+S")
        self._action(f, "&Load run configuration…", self.choose_load_config, "Ctrl+L")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        r = bar.addMenu("&Run")
        self.run_action = self._action(r, "&Run", self.start_run, "Ctrl+R")
        self.stop_action = self._action(r, "&Stop", self.stop_run, "Escape")
        self.continue_action = self._action(r, "&Continue iterating", self.continue_run, "Ctrl+Shift+R")
        self._action(r, "Clear &plot and runs", self.clear_runs)
        v = bar.addMenu("&View")
        for dock in self._docks.values():
            v.addAction(dock.toggleViewAction())
        self._update_recent_menu()

    def _connect(self) -> None:
        self.capture_panel.sigScaleChanged.connect(self.set_scale)
        self.capture_panel.sigOpenCapture.connect(self.choose_capture)
        self.capture_panel.sigOpenMask.connect(self.choose_mask)
        self.run_panel.sigRun.connect(self.start_run)
        self.run_panel.sigStop.connect(self.stop_run)
        self.run_panel.sigContinue.connect(self.continue_run)
        self.run_panel.sigAlgorithmChanged.connect(self._algorithm_changed)
        self.runs.sigStarted.connect(self._run_started)
        self.runs.sigIteration.connect(self._run_iteration)
        self.runs.sigMeasurement.connect(lambda rec, res: self._mark_dirty())
        self.runs.sigNotice.connect(self._notice)
        self.runs.sigFinished.connect(self._run_finished)
        self.runs.sigError.connect(lambda msg, det: self.show_error("Reconstruction failed", msg, det))
        self.runs.sigIdle.connect(self._run_idle)
        self.plot.png_button.clicked.connect(lambda: self._export_plot("png"))
        self.plot.csv_button.clicked.connect(lambda: self._export_plot("csv"))
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
            d = self._docks
            self.resizeDocks([d["capture"], d["convergence"]], [330, 440], Qt.Orientation.Horizontal)
            self.resizeDocks([d["log"]], [120], Qt.Orientation.Vertical)
        self.video.set_fps(self.store.fps())
        self.video.set_colormap(self.store.colormap())
        self.run_panel.set_algorithm(self.store.last_algorithm())
        self._algorithm_changed(self.run_panel.algorithm())

    # -- errors and messages -----------------------------------------------------------------
    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Log the problem and tell the operator in a dialog (the session stays as it was)."""
        self.log.error(f"{title}: {message}", details)
        self.status_label.setText(f"{title}: {message}")
        QMessageBox.critical(self, title, message)

    def _error_handler(self, title: str) -> Callable[[str, str], None]:
        return lambda message, details: self.show_error(title, message, details)

    def _notice(self, message: str) -> None:
        self.log.warning(message)
        self.statusBar().showMessage(message, 8000)

    # -- loading -----------------------------------------------------------------------------
    def busy_tasks(self) -> int:
        """Background loads not finished yet."""
        return self.tasks.busy()

    def choose_capture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open capture", self.store.last_folder("capture"), CAPTURE_FILTER)
        if path:
            self.open_capture(path)

    def choose_mask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open mask", self.store.last_folder("mask"), CAPTURE_FILTER)
        if path:
            self.open_mask(path)

    def open_capture(self, path: str | Path, mask_path: str | Path | None = None) -> TaskWorker:
        """Load a capture (and optionally its mask) on a worker; on success it replaces the current one."""
        path = Path(path)
        self.log.info(f"opening {path}" + (f" with mask {mask_path}" if mask_path else ""))
        self.status_label.setText(f"loading {path.name} …")
        self.store.set_last_folder("capture", path)

        def loaded(capture: Capture) -> None:
            self.store.add_recent_file(path)
            self._update_recent_menu()
            self.set_capture(capture)

        failed = self._error_handler(f"Cannot open {path.name}")

        def not_loaded(message: str, details: str) -> None:
            if not path.exists() and str(path.resolve()) in self.store.recent_files():
                self.store.remove_recent_file(path)  # gone: no longer offered under Open recent
                self._update_recent_menu()
            failed(message, details)

        return self.tasks.submit(load_capture_task(path, Path(mask_path) if mask_path else None), loaded, not_loaded)

    def open_mask(self, path: str | Path) -> TaskWorker | None:
        path = Path(path)
        capture = self.capture
        if capture is None:
            self.show_error("No capture", "Open a capture before its mask.")
            return None
        self.store.set_last_folder("mask", path)
        self.log.info(f"opening mask {path}")

        return self.tasks.submit(load_mask_task(capture, path), self.set_capture,
                                 self._error_handler(f"Cannot use the mask {path.name}"))

    def load_demo(self) -> TaskWorker:
        return self.tasks.submit(demo_task(), self.set_capture, self._error_handler("Cannot make the demo capture"))

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
        d = capture.describe()
        self.log.info(f"loaded {capture.name}: {d['measurements']} measurement(s), B={d['frames_per_measurement']}, "
                      f"{d['frame_size'][0]}x{d['frame_size'][1]}, scale {d['scale']}"
                      + (", ground truth" if capture.has_truth else ""))
        for note in capture.notes:  # how the file was read (layout, B, frames used)
            self.log.info(f"{capture.name}: {note}")
        self.statusBar().clearMessage()   # a notice about the previous capture no longer applies
        if capture.mask is None:
            self._notice(f"{capture.name} has no mask: open one (File > Open mask) to reconstruct.")
        self.status_label.setText(f"{capture.name} loaded")

    def set_scale(self, scale: str) -> None:
        if self.capture is None or self.capture.scale.value == scale:
            return
        try:
            self.set_capture(self.capture.with_scale(scale))
        except Exception as exc:  # noqa: BLE001 - a refused scale must not lose the capture
            self.show_error("Cannot change the scale", str(exc))
            self.capture_panel.set_capture(self.capture)
        else:
            self.log.info(f"scale convention set to {scale}")

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.store.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_capture(p))
        self.recent_menu.setEnabled(bool(files))

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths)

    def open_dropped(self, paths: list[str]) -> None:
        """One file: a capture (or a mask, if its name says so and a capture is open); two: capture + mask."""
        masks = [p for p in paths if "mask" in Path(p).name.lower()]
        others = [p for p in paths if p not in masks]
        left = others[1:] + masks[1:]
        if left:
            self.log.warning(f"One capture at a time: not opened {', '.join(Path(p).name for p in left)}.")
        if others:
            self.open_capture(others[0], mask_path=masks[0] if masks else None)
        elif masks and self.capture is not None:
            self.open_mask(masks[0])
        elif masks:
            self.open_capture(masks[0])

    # -- running -----------------------------------------------------------------------------
    def start_run(self) -> RunRecord | None:
        if self.capture is None:
            self.show_error("Nothing to reconstruct", "Open a capture first.")
            return None
        opts = self.run_panel.job_options()
        if not opts["measurements"]:
            self.show_error("No measurement chosen", "Tick at least one measurement to reconstruct.")
            return None
        try:
            record = self.runs.start(self.capture, opts["algo"], opts["settings"], opts["device"], opts["measurements"])
        except Exception as exc:  # noqa: BLE001 - refused before starting: say why
            self.show_error("Cannot start the reconstruction", str(exc))
            return None
        self.store.set_algorithm_defaults(opts["algo"], opts["settings"])
        self.store.set_last_algorithm(opts["algo"])
        return record

    def stop_run(self) -> None:
        if self.runs.is_running():
            self.runs.stop()
            self.status_label.setText("stopping …")

    def continue_run(self) -> RunRecord | None:
        record = self.runs.current
        if record is None or self.runs.is_running():
            return None
        settings = self.run_panel.form.values() if self.run_panel.algorithm() == record.algo else None
        try:
            record = self.runs.continue_run(record, settings)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot continue", str(exc))
            return None
        if self.capture is not None and record.capture.scale != self.capture.scale:
            # its estimates are frames on its own scale: a run continues on the scale it began with
            self.log.warning(f"{record.label} continues on its own scale ({record.capture.scale.value}), "
                             f"not the one now chosen ({self.capture.scale.value}); start a new run for that.")
        return record

    def clear_runs(self) -> None:
        if self.runs.is_running():
            self.runs.stop()
            self.runs.wait()
        self.plot.clear()
        self.runs.store.clear()
        self.runs.current = None
        self._status_text = ""
        self.status_label.setText("runs cleared")
        self._update_compare_sources()
        self.video.refresh_data()
        self.run_panel.set_running(False, False)

    def _run_started(self, record: RunRecord) -> None:
        self.plot.add_run(record.run_id, record.label)
        self.run_panel.set_running(True)
        self.video.set_source("Estimate")
        self.video.set_measurement(record.measurements[0])
        self._update_compare_sources()
        budget = iteration_budget(record.settings)
        self.progress.setRange(0, budget * len(record.measurements) if budget else 0)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        verb = "continuing" if len(record.job_ids) > 1 else "running"
        self.log.info(f"{verb} {record.label} on measurement(s) {record.measurements}, device {record.device}, "
                      f"settings {record.settings}")

    def _run_iteration(self, record: RunRecord, event: IterationEvent) -> None:
        self.plot.add_point(record.run_id, event)
        budget = iteration_budget(record.settings)
        if budget:
            local = event.k - self.runs.k_offset(event.position)
            self.progress.setValue(event.position * budget + local)
        if event.estimate is not None:  # the views follow the measurement being reconstructed
            if self.video.measurement() != event.measurement:
                self.video.set_measurement(event.measurement)
            if self.compare.meas_spin.value() != event.measurement:
                self.compare.meas_spin.setValue(event.measurement)
        text = f"{record.label}: meas {event.measurement}  K={event.k}  residual {event.residual:.2e}"
        if event.psnr is not None:
            text += f"  PSNR {event.psnr:.2f} dB"
        self._status_text = text
        self._mark_dirty()

    def _run_finished(self, record: RunRecord) -> None:
        self.log.info(record.summary())
        self._update_compare_sources(default_panes=True)
        self._mark_dirty()

    def _run_idle(self) -> None:
        record = self.runs.current
        self.run_panel.set_running(False, can_continue=bool(record and record.can_continue))
        self.progress.setVisible(False)
        secs = self.runs.elapsed.elapsed() / 1000
        if record is not None:
            state = "failed" if record.failed else "stopped" if record.cancelled else "finished"
            self.status_label.setText(f"{record.label} {state} after {secs:.1f} s")
        self._mark_dirty()

    # -- data for the views ------------------------------------------------------------------
    def _update_compare_sources(self, default_panes: bool = False) -> None:
        runs = [r for r in self.runs.store.runs() if r.estimates or r is self.runs.current]
        sources = [(f"run:{r.run_id}", r.label) for r in runs]
        has_truth = self.capture is not None and self.capture.has_truth
        if has_truth:
            sources.append((TRUTH_KEY, "Ground truth"))
        picks = None
        keys = [k for k, _ in sources if k != TRUTH_KEY]
        if keys and (default_panes or self.compare.pane_key(0) == "none"):
            picks = {0: keys[-2] if len(keys) > 1 else keys[-1],
                     1: keys[-1] if len(keys) > 1 else (TRUTH_KEY if has_truth else "none"),
                     2: TRUTH_KEY if has_truth and len(keys) > 1 else DIFF_KEY}
        # one redraw: on 512 x 512 x 10 videos each costs ~25 ms of the GUI thread
        self.compare.set_sources(sources, TRUTH_KEY if has_truth else None, picks)

    # -- bounded-rate redraw -----------------------------------------------------------------
    def _mark_dirty(self) -> None:
        self._dirty = True

    def _redraw(self) -> None:
        if self.runs.is_running() and self.runs.elapsed.isValid():
            text = self._status_text or "running"
            self.status_label.setText(f"{text}   {self.runs.elapsed.elapsed() / 1000:.1f} s")
        if not self._dirty:
            return
        self._dirty = False
        if self.tabs.currentWidget() is self.video:
            if self.video.source() == "Estimate":
                self.video.refresh_data()
        else:
            self.compare.refresh_data()

    # -- export and configurations -----------------------------------------------------------
    def export_items(self) -> list[ExportItem]:
        """Each finished run, and the ground truth of each set of measurements those runs show."""
        items = []
        for r in self.runs.store.finished():
            done = tuple(m for m in r.measurements if m in r.estimates)
            cfg = r.config or {"algo": r.algo, "settings": r.settings, "device": r.device}
            cfg = {**cfg, "measurements": list(done)}
            items.append(ExportItem(f"run:{r.run_id}", r.label, r.reconstruction(), cfg, done))
        c = self.capture
        if c is not None and c.has_truth:
            sets = list(dict.fromkeys(i.measurements for i in items))
            for meas in sets:
                key, label = (TRUTH_KEY, "Ground truth") if len(sets) == 1 else \
                    (f"{TRUTH_KEY}:{','.join(map(str, meas))}", f"Ground truth (meas {', '.join(map(str, meas))})")
                items.append(ExportItem(key, label, c.ground_truth(list(meas)),
                                        {"ground_truth": True, "measurements": list(meas)}, meas))
        return items

    def show_export_dialog(self) -> ExportDialog | None:
        items = self.export_items()
        if not items:
            self.show_error("Nothing to export", "Run a reconstruction first; finished runs can be exported.")
            return None
        # the runs in the compare view, as long as they show the same measurements
        by_key = {i.key: i for i in items}
        shown = [by_key[k] for k in (self.compare.pane_key(0), self.compare.pane_key(1)) if k in by_key
                 and k.startswith("run:")]
        preselect = [i.key for i in shown if i.measurements == shown[0].measurements]
        dialog = ExportDialog(items, self.store.last_folder("export"), self.video.fps(), preselect or None, self)
        dialog.sigExported.connect(lambda paths: (self.log.info("exported " + ", ".join(paths)),
                                                  self.store.set_last_folder("export", paths[0])))
        dialog.sigFailed.connect(lambda msg, det: self.show_error("Export failed", msg, det))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _export_plot(self, kind: str) -> None:
        folder = self.store.last_folder("export")
        filt = "PNG image (*.png)" if kind == "png" else "CSV (*.csv)"
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", str(Path(folder) / f"convergence.{kind}"), filt)
        if not path:
            return
        try:
            out = self.plot.export_png(path) if kind == "png" else self.plot.export_csv(path)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot export the plot", str(exc))
        else:
            self.log.info(f"wrote {out}")
            self.store.set_last_folder("export", out)

    def run_config(self) -> dict[str, Any]:
        """The run panel's choices plus where the capture came from (as saved in YAML)."""
        cfg = dict(self.run_panel.job_options())
        c = self.capture
        if c is not None:
            cfg["capture"] = {"source": c.source, "mask": c.mask_source, "scale": c.scale.value, "name": c.name}
        return cfg

    def choose_save_config(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save run configuration",
                                              str(Path(self.store.last_folder("config")) / "run.yaml"), "YAML (*.yaml *.yml)")
        if path:
            self.save_config(path)

    def save_config(self, path: str | Path) -> None:
        try:
            out = save_run_config(path, self.run_config())
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot save the configuration", str(exc))
        else:
            self.store.set_last_folder("config", out)
            self.log.info(f"saved run configuration {out}")

    def choose_load_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load run configuration", self.store.last_folder("config"),
                                              "YAML (*.yaml *.yml);;All files (*)")
        if path:
            self.load_config(path)

    def load_config(self, path: str | Path) -> None:
        try:
            cfg = load_run_config(path)
            notices = self.run_panel.apply_config(cfg)
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot load the configuration", str(exc))
            return
        for notice in notices:
            self.log.warning(f"{Path(path).name}: {notice}")
            self.statusBar().showMessage(f"{Path(path).name}: {notice}", 15000)
        scale = (cfg.get("capture") or {}).get("scale")
        if scale and self.capture is not None:
            self.set_scale(str(scale))
        self.log.info(f"loaded run configuration {path}")

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


def isolated_settings(path: str | Path) -> SettingsStore:
    """A SettingsStore on an INI file (tests, screenshots, benchmarks)."""
    return SettingsStore(QSettings(str(path), QSettings.Format.IniFormat))
