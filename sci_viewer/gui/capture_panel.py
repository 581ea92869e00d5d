"""The capture summary (file, sizes, value range, negative pixels, ground truth, mask facts, scale
convention) and how the raw measurement is corrected: a dark frame (file or constant offset)
subtracted and a saturation level whose pixels are left out of the data term."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QVBoxLayout, QWidget)

from sci_viewer.capture import SCALE_HELP, Capture, Scale
from sci_viewer.correction import Correction
from sci_viewer.errors import CaptureError

DARK_FILTER = "Dark frames (*.mat *.npz *.npy *.h5 *.hdf5 *.tif *.tiff);;All files (*)"
Report = Callable[[str, str, str], None]  # (title, message, details)


def _short(path: str | None, limit: int = 48) -> str:
    if not path:
        return "—"
    return path if len(path) <= limit else "…" + path[-(limit - 1):]


def _dark_text(correction: Correction) -> str:
    """What the dark-frame field shows for ``correction``: its file, its constant, or nothing."""
    value = correction.dark_config()
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def correction_task(capture: Capture, dark: str | None, saturation: float | None) -> Callable[..., Capture]:
    """A :class:`~sci_viewer.gui.task_runner.TaskRunner` task: ``capture`` with the dark frame read
    from ``dark`` (a file: it may be a large stack, so it is read on a worker) and the level applied."""
    def apply(progress: Any, cancel: Any) -> Capture:
        from sci_viewer.io import apply_correction

        return apply_correction(capture, dark, saturation)

    return apply


class CapturePanel(QWidget):
    """Summary of the loaded capture; the scale combo emits ``sigScaleChanged(value)``.

    The dark-frame field and the saturation spin box correct the capture once :meth:`attach` has
    said where the corrected capture goes: a constant offset or a new level is applied on the GUI
    thread (cheap), a dark-frame file is read on the window's task runner.
    """

    sigScaleChanged = Signal(str)
    sigOpenCapture = Signal()
    sigOpenMask = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: dict[str, QLabel] = {}
        self._capture: Capture | None = None
        self._tasks: Any = None
        self._show: Callable[[Capture], None] | None = None
        self._report: Report | None = None
        form = QFormLayout()
        for key, title in (("name", "Capture"), ("source", "File"), ("mask_source", "Mask file"),
                           ("measurements", "Measurements"), ("frames", "Frames (B)"),
                           ("size", "H × W"), ("range", "Value range"), ("negative", "Negative pixels"),
                           ("mask", "Mask"), ("truth", "Ground truth")):
            label = QLabel("—")
            label.setWordWrap(True)
            label.setObjectName(f"summary_{key}")
            self._labels[key] = label
            form.addRow(title, label)
        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("scaleCombo")
        for s in Scale:
            self.scale_combo.addItem(s.value, s.value)
            self.scale_combo.setItemData(self.scale_combo.count() - 1, SCALE_HELP[s], 3)  # ToolTipRole
        self.scale_help = QLabel()
        self.scale_help.setWordWrap(True)
        self.scale_help.setStyleSheet("color: gray;")
        form.addRow("Scale", self.scale_combo)
        form.addRow(self.scale_help)
        form.addRow("Dark frame", self._dark_row())
        self.saturation_spin = QDoubleSpinBox()
        self.saturation_spin.setObjectName("saturationSpin")
        self.saturation_spin.setRange(0.0, 1e12)
        self.saturation_spin.setDecimals(4)
        self.saturation_spin.setSpecialValueText("off")
        self.saturation_spin.setToolTip("Raw level (before dark subtraction) at or above which a pixel is "
                                        "saturated: counted and left out of the data term. 0: off.")
        self.saturation_spin.editingFinished.connect(self.apply_correction)
        form.addRow("Saturation", self.saturation_spin)
        saturated = QLabel("—")
        saturated.setWordWrap(True)
        saturated.setObjectName("summary_saturated")
        self._labels["saturated"] = saturated
        form.addRow("Saturated pixels", saturated)
        buttons = QHBoxLayout()
        open_capture = QPushButton("Open capture…")
        open_mask = QPushButton("Open mask…")
        open_capture.clicked.connect(self.sigOpenCapture)
        open_mask.clicked.connect(self.sigOpenMask)
        buttons.addWidget(open_capture)
        buttons.addWidget(open_mask)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._updating = False
        self.scale_combo.currentIndexChanged.connect(self._scale_changed)

    def _dark_row(self) -> QHBoxLayout:
        self.dark_edit = QLineEdit()
        self.dark_edit.setObjectName("darkEdit")
        self.dark_edit.setPlaceholderText("none: a file or a constant offset")
        self.dark_edit.setToolTip("Subtracted from the raw measurement before reconstructing: a file (H × W, or a "
                                  "stack averaged to H × W) or a constant, in raw units. Empty: none.")
        self.dark_edit.editingFinished.connect(self.apply_correction)
        browse = QPushButton("…")
        browse.setObjectName("darkBrowse")
        browse.setToolTip("Choose a dark-frame file")
        browse.clicked.connect(self.choose_dark)
        row = QHBoxLayout()
        row.addWidget(self.dark_edit, 1)
        row.addWidget(browse)
        return row

    def attach(self, tasks: Any, show: Callable[[Capture], None], report: Report) -> None:
        """Where corrections go: ``tasks`` (a :class:`~sci_viewer.gui.task_runner.TaskRunner`) reads dark
        files, ``show(capture)`` shows the corrected capture, ``report(title, message, details)`` a refusal."""
        self._tasks, self._show, self._report = tasks, show, report

    def label_text(self, key: str) -> str:
        return self._labels[key].text()

    # -- showing a capture -------------------------------------------------------------------
    def set_capture(self, capture: Capture | None) -> None:
        self._capture = capture
        if capture is None:
            for label in self._labels.values():
                label.setText("—")
            self._show_correction(Correction())
            return
        d = capture.describe()
        t = self._labels
        t["name"].setText(d["name"])
        t["source"].setText(_short(d["source"]))
        t["source"].setToolTip(d["source"] or "")
        t["mask_source"].setText(_short(d["mask_source"]) if d["mask_source"] else
                                 ("in the capture file" if d["mask"] else "none: open a mask"))
        t["measurements"].setText(str(d["measurements"]))
        t["frames"].setText(str(d["frames_per_measurement"] or "?"))
        t["size"].setText("{} × {}".format(*d["frame_size"]))
        lo, hi = d["meas_range"]
        text = f"{lo:g} … {hi:g} ({d['meas_dtype']})"
        if d["corrected_range"] is not None:
            text += " raw; {:g} … {:g} after the dark frame".format(*d["corrected_range"])
        t["range"].setText(text)
        share = 100.0 * (d["negative_pixels"] or 0) / max(1, d["measurements"] * d["frame_size"][0] * d["frame_size"][1])
        t["negative"].setText(f"{d['negative_pixels']} ({share:.2g}%), min {d['negative_min']:g}"
                              if d["negative_pixels"] else "none")
        m = d["mask"]
        if m is None:
            t["mask"].setText("missing")
        else:
            kind = "binary" if m["binary"] else f"grey-level {m['range'][0]:.3g}…{m['range'][1]:.3g}"
            extra = f", {m['zero_exposure_pixels']} never-exposed px" if m["zero_exposure_pixels"] else ""
            t["mask"].setText(f"{kind}, mean {m['mean']:.3f}{extra}")
        t["truth"].setText("yes" if d["ground_truth"] else "no")
        if d["saturation"] is None:
            t["saturated"].setText("— (no level)")
        else:
            n = d["saturated_pixels"]
            t["saturated"].setText(f"{n} at or above {d['saturation']:g}" + (", left out of the data term" if n else ""))
        self._updating = True
        self.scale_combo.setCurrentIndex(self.scale_combo.findData(d["scale"]))
        self._updating = False
        self.scale_help.setText(d["scale_meaning"])
        self._show_correction(capture.correction)

    def _show_correction(self, correction: Correction) -> None:
        self.dark_edit.setText(_dark_text(correction))
        self.saturation_spin.blockSignals(True)
        self.saturation_spin.setValue(correction.saturation or 0.0)
        self.saturation_spin.blockSignals(False)

    # -- correcting it -----------------------------------------------------------------------
    def choose_dark(self) -> None:
        folder = str(Path(self._capture.source).parent) if self._capture and self._capture.source else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open dark frame", folder, DARK_FILTER)
        if path:
            self.dark_edit.setText(path)
            self.apply_correction()

    def apply_correction(self) -> Any:
        """Apply the fields to the capture shown: on the GUI thread for a constant or a level, on a
        worker for a dark-frame file not read yet (returns its TaskWorker). Nothing when unchanged."""
        capture = self._capture
        if capture is None or self._show is None:
            return None
        dark = self.dark_edit.text().strip() or None
        level = self.saturation_spin.value() or None
        current = capture.correction
        if dark == (_dark_text(current) or None) and level == current.saturation:
            return None
        try:
            if dark is not None and dark == current.dark_source:  # the frame already read: keep it
                self._show(capture.with_correction(replace(current, saturation=level)))
            elif dark is not None and Path(dark).is_file():
                return self._tasks.submit(correction_task(capture, dark, level), self._corrected,
                                          lambda message, details, *_: self._refuse(message, details))
            else:
                from sci_viewer.io import dark_correction

                self._show(capture.with_correction(dark_correction(capture, dark, level)))
        except CaptureError as exc:
            self._refuse(str(exc), "")
        return None

    def _corrected(self, corrected: Capture) -> None:
        """A dark frame read on a worker: for the capture shown now, if it is still the same file."""
        now = self._capture
        if self._show is None or now is None or now.source != corrected.source or now.frame_shape != corrected.frame_shape:
            return  # another capture was opened meanwhile
        level = self.saturation_spin.value() or None  # as the spin box says now
        self._show(now.with_correction(replace(corrected.correction, saturation=level)))

    def _refuse(self, message: str, details: str) -> None:
        if self._capture is not None:
            self._show_correction(self._capture.correction)
        if self._report is not None:
            self._report("Cannot correct the measurement", message, details)

    def _scale_changed(self) -> None:
        value = str(self.scale_combo.currentData())
        self.scale_help.setText(SCALE_HELP[Scale(value)])
        if not self._updating:
            self.sigScaleChanged.emit(value)
