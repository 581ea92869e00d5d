"""The capture summary: file, sizes, value range, ground truth, mask facts, scale convention."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sci_viewer.capture import SCALE_HELP, Capture, Scale


def _short(path: str | None, limit: int = 48) -> str:
    if not path:
        return "—"
    return path if len(path) <= limit else "…" + path[-(limit - 1):]


class CapturePanel(QWidget):
    """Summary of the loaded capture; the scale combo emits ``sigScaleChanged(value)``."""

    sigScaleChanged = Signal(str)
    sigOpenCapture = Signal()
    sigOpenMask = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, title in (("name", "Capture"), ("source", "File"), ("mask_source", "Mask file"),
                           ("measurements", "Measurements"), ("frames", "Frames (B)"),
                           ("size", "H × W"), ("range", "Value range"), ("mask", "Mask"),
                           ("truth", "Ground truth")):
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

    def label_text(self, key: str) -> str:
        return self._labels[key].text()

    def set_capture(self, capture: Capture | None) -> None:
        if capture is None:
            for label in self._labels.values():
                label.setText("—")
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
        t["range"].setText(f"{lo:g} … {hi:g} ({d['meas_dtype']})")
        m = d["mask"]
        if m is None:
            t["mask"].setText("missing")
        else:
            kind = "binary" if m["binary"] else f"grey-level {m['range'][0]:.3g}…{m['range'][1]:.3g}"
            extra = f", {m['zero_exposure_pixels']} never-exposed px" if m["zero_exposure_pixels"] else ""
            t["mask"].setText(f"{kind}, mean {m['mean']:.3f}{extra}")
        t["truth"].setText("yes" if d["ground_truth"] else "no")
        self._updating = True
        self.scale_combo.setCurrentIndex(self.scale_combo.findData(d["scale"]))
        self._updating = False
        self.scale_help.setText(d["scale_meaning"])

    def _scale_changed(self) -> None:
        value = str(self.scale_combo.currentData())
        self.scale_help.setText(SCALE_HELP[Scale(value)])
        if not self._updating:
            self.sigScaleChanged.emit(value)
