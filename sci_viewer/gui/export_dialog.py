"""Export dialog: one or more runs (or the ground truth) to MP4/GIF/TIFF/PNG frames/npz/mat,
optionally as a labelled side-by-side composite, in the background with a progress bar. The
run configuration is written next to the export as YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from sci_viewer.engine import CancelToken
from sci_viewer.gui.worker import TaskWorker, join_thread, start_worker

FORMATS = [(".mp4", "MP4 video"), (".gif", "GIF animation"), (".tif", "TIFF stack"), (".png", "PNG frames"),
           (".npz", "NumPy .npz"), (".mat", "MATLAB .mat")]
SCALINGS = [("clip", "clip to [0, 1]"), ("minmax", "stretch min–max")]
KNOWN_SUFFIXES = {ext for ext, _ in FORMATS} | {".tiff"}


def with_format(path: Path, ext: str) -> Path:
    """``path`` with the format's extension: a known one replaced, anything else (``run.v2``) kept."""
    return path.with_suffix(ext) if path.suffix.lower() in KNOWN_SUFFIXES else path.with_name(path.name + ext)


@dataclass
class ExportItem:
    """Something exportable: a label, frames (n, B, H, W) on [0, 1], and its run configuration."""

    key: str
    label: str
    video: np.ndarray
    config: dict[str, Any]
    measurements: tuple[int, ...] = ()  # which measurements the frames are (side by side needs the same)


def mixed_measurements(items: list[ExportItem]) -> str | None:
    """Why ``items`` cannot go side by side (they show different measurements), or None."""
    if len({i.measurements for i in items}) <= 1:
        return None
    shown = "; ".join(f"{i.label}: {', '.join(map(str, i.measurements))}" for i in items)
    return (f"Side by side needs the same measurements in every item ({shown}). "
            "Untick items until they match, or untick the side-by-side composite.")


def planned_paths(items: list[ExportItem], target: Path, composite: bool) -> list[Path]:
    """The files an export of ``items`` to ``target`` writes: one, or one per item named by its label."""
    if composite or len(items) == 1:
        return [target]
    paths = []
    for i in items:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in i.label).strip("_")
        paths.append(target.with_name(f"{target.stem}_{safe}{target.suffix}"))
    return paths


def export_items(items: list[ExportItem], target: Path, *, fps: float, scale: str, composite: bool,
                 progress: Callable[[int, int], None], cancel: CancelToken) -> list[Path]:
    """Write ``items`` to ``target`` (one file, or one per item with the label in the name), and
    the configuration YAML next to each file. Runs on a worker thread."""
    from sci_viewer.export import export_video, save_config_yaml, side_by_side

    def flat(v: np.ndarray) -> np.ndarray:
        return v.reshape(-1, *v.shape[-2:]) if v.ndim == 4 else v

    config: dict[str, Any] = {"export": {"fps": fps, "scale": scale, "items": [i.label for i in items],
                                         "side_by_side": composite and len(items) > 1}}
    if composite and len(items) > 1:
        frames = side_by_side([flat(i.video) for i in items], [i.label for i in items])
        jobs = [(target, frames, {**config, "runs": [i.config for i in items]})]
    else:
        jobs = [(path, i.video, {**i.config, **config}) for path, i in zip(planned_paths(items, target, False), items)]
    from sci_viewer.errors import JobCancelled

    written = []
    for path, video, cfg in jobs:
        if cancel.is_set():
            break
        video = video if path.suffix.lower() in (".npz", ".mat") else flat(np.asarray(video))
        try:
            out = Path(export_video(path, video, fps=fps, scale=scale, cancel=cancel, progress=progress,
                                    metadata={"config": cfg}))
        except JobCancelled:
            break
        save_config_yaml(Path(str(out) + ".yaml"), cfg)
        written.append(out)
    return written


class ExportDialog(QDialog):
    """Pick what to export and how; the export runs on a worker, the dialog shows its progress.

    Emits ``sigExported(list_of_paths)`` and ``sigFailed(message, details, refusal)``.
    """

    sigExported = Signal(list)
    sigFailed = Signal(str, str, bool)

    def __init__(self, items: list[ExportItem], folder: str, fps: float = 10.0,
                 preselect: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export reconstruction")
        self._items = {i.key: i for i in items}
        self._worker: TaskWorker | None = None
        self._worker_thread = None
        self._confirmed: tuple | None = None  # an export plan whose existing files the user chose to replace
        self.item_list = QListWidget()
        for it in items:
            w = QListWidgetItem(it.label)
            w.setData(Qt.ItemDataRole.UserRole, it.key)
            w.setFlags(w.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = it.key in preselect if preselect else it is items[-1]
            w.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.item_list.addItem(w)
        self.format_combo = QComboBox()
        for ext, label in FORMATS:
            self.format_combo.addItem(f"{label} ({ext})", ext)
        self.path_edit = QLineEdit(str(Path(folder) / "reconstruction.mp4"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(0.5, 120)
        self.fps_spin.setValue(fps)
        self.scale_combo = QComboBox()
        for key, label in SCALINGS:
            self.scale_combo.addItem(label, key)
        self.composite_check = QCheckBox("Side-by-side composite with labels")
        self.composite_check.setChecked(True)
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Export", self.item_list)
        form.addRow("Format", self.format_combo)
        form.addRow("File", path_row)
        form.addRow("Frame rate", self.fps_spin)
        form.addRow("Scaling", self.scale_combo)
        form.addRow(self.composite_check)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.format_combo.currentIndexChanged.connect(self._format_changed)

    # -- choices -----------------------------------------------------------------------------
    def selected(self) -> list[ExportItem]:
        out = []
        for i in range(self.item_list.count()):
            w = self.item_list.item(i)
            if w.checkState() == Qt.CheckState.Checked:
                out.append(self._items[w.data(Qt.ItemDataRole.UserRole)])
        return out

    def set_path(self, path: str | Path) -> None:
        self.path_edit.setText(str(path))
        ext = Path(path).suffix.lower()
        idx = self.format_combo.findData(ext)
        if idx >= 0:
            self.format_combo.blockSignals(True)
            self.format_combo.setCurrentIndex(idx)
            self.format_combo.blockSignals(False)

    def _format_changed(self) -> None:
        self.path_edit.setText(str(with_format(Path(self.path_edit.text()), str(self.format_combo.currentData()))))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(),
                                              ";;".join(f"{label} (*{ext})" for ext, label in FORMATS))
        if path:
            self.set_path(path)

    # -- running -----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._worker is not None

    def start_export(self) -> None:
        items = self.selected()
        if not items:
            self.status.setText("Choose at least one reconstruction to export.")
            return
        target = Path(self.path_edit.text()).expanduser()
        if target.suffix.lower() not in KNOWN_SUFFIXES:  # "run.v2" is a name, not a format
            target = with_format(target, str(self.format_combo.currentData()))
        fps, scale = self.fps_spin.value(), str(self.scale_combo.currentData())
        composite = self.composite_check.isChecked()
        problem = mixed_measurements(items) if composite else None
        if problem:
            self.status.setText(problem)
            return
        from sci_viewer.export import output_path

        there = [p for p in planned_paths(items, target, composite) if output_path(p).exists()]
        plan = (target, composite, tuple(i.key for i in items))
        if there and self._confirmed != plan:  # a typed name skips the file dialog's own question
            self._confirmed = plan
            self.status.setText(f"{', '.join(p.name for p in there)} already exist{'s' if len(there) == 1 else ''}: "
                                "press Export again to replace, or change the name.")
            return
        self._confirmed = None
        self.export_button.setEnabled(False)
        self.status.setText(f"Exporting to {target} …")
        self.progress.setRange(0, 0)
        worker = TaskWorker(lambda progress, cancel: export_items(
            items, target, fps=fps, scale=scale, composite=composite, progress=progress, cancel=cancel))
        worker.sigProgress.connect(self._progress)
        worker.sigResult.connect(self._done)
        worker.sigError.connect(self._failed)
        self._worker = worker
        self._worker_thread = start_worker(worker, self, self._thread_finished)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _done(self, paths: list[Path]) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        if not paths:
            self.status.setText("Export cancelled; nothing was written.")
            return
        self.status.setText("Wrote " + ", ".join(str(p) for p in paths))
        self.sigExported.emit([str(p) for p in paths])

    def _failed(self, message: str, details: str, refusal: bool = False) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(f"Export failed: {message}")
        self.sigFailed.emit(message, details, refusal)

    def _thread_finished(self) -> None:
        self._worker = None
        self._worker_thread = None
        self.export_button.setEnabled(True)

    def _cancel(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self.status.setText("Cancelling …")
        else:
            self.reject()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._worker is not None:
            self._worker.stop()
            join_thread(self._worker_thread)
        super().closeEvent(event)
