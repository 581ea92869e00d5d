"""Export from the window: finished runs (the export dialog), the convergence plot (PNG / CSV), and
run configurations (YAML, save and load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from sci_viewer.capture import Capture
from sci_viewer.gui.compare_view import CompareView
from sci_viewer.gui.convergence_plot import ConvergencePlot
from sci_viewer.gui.export_dialog import ExportDialog, ExportItem
from sci_viewer.gui.log_panel import LogPanel
from sci_viewer.gui.run_panel import RunPanel
from sci_viewer.gui.run_store import RunStore
from sci_viewer.gui.settings_store import SettingsStore, load_run_config, save_run_config
from sci_viewer.gui.view_data import TRUTH_KEY

ErrorReport = Callable[[str, str, str, bool], None]  # (title, message, details, refusal)


class ExportActions(QObject):
    """The window's exports. ``capture()``: the capture shown; ``fps()``: the video's rate;
    ``notice(text)``: a status-bar message; ``set_scale(scale)``: applies a loaded configuration's."""

    def __init__(self, parent: QWidget, runs: RunStore, run_panel: RunPanel, compare: CompareView,
                 plot: ConvergencePlot, store: SettingsStore, log: LogPanel, capture: Callable[[], Capture | None],
                 fps: Callable[[], float], report_error: ErrorReport, notice: Callable[[str], None],
                 set_scale: Callable[[str], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self.runs, self.run_panel, self.compare, self.plot, self.store, self.log = runs, run_panel, compare, plot, store, log
        self._capture, self._fps, self._report, self._notice, self._set_scale = capture, fps, report_error, notice, set_scale

    # -- runs --------------------------------------------------------------------------------
    def export_items(self) -> list[ExportItem]:
        """Each finished run, and the ground truth of each set of measurements those runs show."""
        items = []
        for r in self.runs.finished():
            done = tuple(m for m in r.measurements if m in r.estimates)
            cfg = r.config or {"algo": r.algo, "settings": r.settings, "device": r.device}
            cfg = {**cfg, "measurements": list(done)}
            items.append(ExportItem(f"run:{r.run_id}", r.label, r.reconstruction(), cfg, done))
        c = self._capture()
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
            self._report("Nothing to export", "Run a reconstruction first; finished runs can be exported.", "", True)
            return None
        # the runs in the compare view, as long as they show the same measurements
        by_key = {i.key: i for i in items}
        shown = [by_key[k] for k in (self.compare.pane_key(0), self.compare.pane_key(1)) if k in by_key
                 and k.startswith("run:")]
        preselect = [i.key for i in shown if i.measurements == shown[0].measurements]
        dialog = ExportDialog(items, self.store.last_folder("export"), self._fps(), preselect or None, self._parent)
        dialog.sigExported.connect(lambda paths: (self.log.info("exported " + ", ".join(paths)),
                                                  self.store.set_last_folder("export", paths[0])))
        dialog.sigFailed.connect(lambda msg, det, refusal=False: self._report("Export failed", msg, det, refusal))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    # -- the plot ----------------------------------------------------------------------------
    def export_plot(self, kind: str) -> None:
        folder = self.store.last_folder("export")
        filt = "PNG image (*.png)" if kind == "png" else "CSV (*.csv)"
        path, _ = QFileDialog.getSaveFileName(self._parent, "Export plot", str(Path(folder) / f"convergence.{kind}"), filt)
        if not path:
            return
        try:
            out = self.plot.export_png(path) if kind == "png" else self.plot.export_csv(path)
        except Exception as exc:  # noqa: BLE001
            self._report("Cannot export the plot", str(exc), "", True)
        else:
            self.log.info(f"wrote {out}")
            self.store.set_last_folder("export", out)

    # -- run configurations ------------------------------------------------------------------
    def run_config(self) -> dict[str, Any]:
        """The run panel's choices plus where the capture came from (as saved in YAML)."""
        cfg = dict(self.run_panel.job_options())
        c = self._capture()
        if c is not None:
            cfg["capture"] = c.config()  # with its dark frame and saturation level
        return cfg

    def choose_save_config(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self._parent, "Save run configuration",
                                              str(Path(self.store.last_folder("config")) / "run.yaml"),
                                              "YAML (*.yaml *.yml)")
        if path:
            self.save_config(path)

    def save_config(self, path: str | Path) -> None:
        try:
            out = save_run_config(path, self.run_config())
        except Exception as exc:  # noqa: BLE001
            self._report("Cannot save the configuration", str(exc), "", True)
        else:
            self.store.set_last_folder("config", out)
            self.log.info(f"saved run configuration {out}")

    def choose_load_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Load run configuration", self.store.last_folder("config"),
                                              "YAML (*.yaml *.yml);;All files (*)")
        if path:
            self.load_config(path)

    def load_config(self, path: str | Path) -> None:
        try:
            cfg = load_run_config(path)
            notices = self.run_panel.apply_config(cfg)
        except Exception as exc:  # noqa: BLE001
            self._report("Cannot load the configuration", str(exc), "", True)
            return
        for notice in notices:
            self.log.warning(f"{Path(path).name}: {notice}")
            self._notice(f"{Path(path).name}: {notice}")
        scale = (cfg.get("capture") or {}).get("scale")
        if scale and self._capture() is not None:
            self._set_scale(str(scale))
        self.log.info(f"loaded run configuration {path}")
