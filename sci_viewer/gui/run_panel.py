"""The run panel: algorithm, its settings, measurements, device, and Run / Stop / Continue."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from sci_viewer.algorithms import algorithm_names, get_algorithm
from sci_viewer.algorithms.base import settings_to_dict
from sci_viewer.capture import Capture
from sci_viewer.errors import JobError
from sci_viewer.gui.settings_form import SettingsForm
from sci_viewer.settings import available_devices


class RunPanel(QWidget):
    """Emits sigRun(), sigStop(), sigContinue(); :meth:`job_options` reads the choices."""

    sigRun = Signal()
    sigStop = Signal()
    sigContinue = Signal()
    sigAlgorithmChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.algo_combo = QComboBox()
        self.algo_combo.setObjectName("algoCombo")
        for name in algorithm_names():
            self.algo_combo.addItem(get_algorithm(name).label, name)
        self.algo_help = QLabel()
        self.algo_help.setWordWrap(True)
        self.algo_help.setStyleSheet("color: gray;")
        self.form = SettingsForm()
        self.device_combo = QComboBox()
        for dev_id, label in available_devices():
            self.device_combo.addItem(label, dev_id)
        self.meas_list = QListWidget()
        self.meas_list.setMaximumHeight(56)
        self.meas_list.setFlow(QListWidget.Flow.LeftToRight)
        self.meas_list.setWrapping(True)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.stop_button = QPushButton("Stop")
        self.continue_button = QPushButton("Continue iterating")
        self.continue_button.setToolTip("Iterate the last run further: each measurement from where it is "
                                        "(iteration numbers continue); measurements a Stop left out start")
        self.stop_button.setEnabled(False)
        self.continue_button.setEnabled(False)

        top = QFormLayout()
        top.addRow("Algorithm", self.algo_combo)
        top.addRow(self.algo_help)
        top.addRow("Device", self.device_combo)
        settings_box = QGroupBox("Settings")
        QVBoxLayout(settings_box).addWidget(self.form)
        meas_box = QGroupBox("Measurements")
        mlay = QVBoxLayout(meas_box)
        mlay.addWidget(self.meas_list)
        sel = QHBoxLayout()
        for text, state in (("All", True), ("None", False)):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, s=state: self._check_all(s))
            sel.addWidget(b)
        mlay.addLayout(sel)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.stop_button, self.continue_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(buttons)  # first: reachable whatever the length of the settings
        layout.addWidget(settings_box)
        layout.addWidget(meas_box)
        layout.addStretch(1)

        self.algo_combo.currentIndexChanged.connect(self._algo_changed)
        self.run_button.clicked.connect(self.sigRun)
        self.stop_button.clicked.connect(self.sigStop)
        self.continue_button.clicked.connect(self.sigContinue)
        self._defaults: dict[str, dict[str, Any]] = {}
        self._algo_changed()

    # -- choices -----------------------------------------------------------------------------
    def algorithm(self) -> str:
        return str(self.algo_combo.currentData())

    def set_algorithm(self, name: str) -> bool:
        return _select_data(self.algo_combo, name)

    def set_defaults(self, algo: str, values: dict[str, Any]) -> None:
        """Remembered settings for ``algo`` (applied when it is chosen)."""
        self._defaults[algo] = dict(values)
        if algo == self.algorithm():
            self.form.set_values(values)

    def device(self) -> str:
        return str(self.device_combo.currentData())

    def set_device(self, dev: str) -> bool:
        return _select_data(self.device_combo, dev)

    def measurements(self) -> list[int]:
        return [i for i in range(self.meas_list.count())
                if self.meas_list.item(i).checkState() == Qt.CheckState.Checked]

    def set_measurements(self, indices: list[int] | None) -> None:
        for i in range(self.meas_list.count()):
            on = indices is None or i in indices
            self.meas_list.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def job_options(self) -> dict[str, Any]:
        """algo, settings, device and measurements as chosen."""
        return {"algo": self.algorithm(), "settings": self.form.values(), "device": self.device(),
                "measurements": self.measurements()}

    def apply_config(self, config: dict[str, Any]) -> list[str]:
        """Set the panel from a run configuration (as saved in YAML). Everything is checked first:
        a bad entry raises JobError naming it and leaves the panel as it was. Returns notices about
        what could not be applied here (a device or measurements this machine or capture lacks)."""
        algo = str(config.get("algo") or self.algorithm())
        if algo not in algorithm_names():
            raise JobError(f"The configuration's algorithm '{algo}' is unknown; known: {', '.join(algorithm_names())}.")
        settings = config.get("settings") or {}
        if not isinstance(settings, dict):
            raise JobError("The configuration's 'settings' must be a mapping of setting names to values.")
        checked = settings_to_dict(get_algorithm(algo).settings(**settings))
        notices = []
        measurements = config.get("measurements")
        if measurements is not None:
            if not isinstance(measurements, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                             for i in measurements):
                raise JobError(f"The configuration's measurements must be a list of whole numbers, got {measurements!r}.")
            missing = [i for i in measurements if not 0 <= i < self.meas_list.count()]
            if missing:
                notices.append(f"measurement(s) {missing} are not in this capture ({self.meas_list.count()} "
                               "measurements): the measurement choice was left as it was")
                measurements = None
        self.set_algorithm(algo)
        self.form.set_values({k: checked[k] for k in settings})
        device = config.get("device")
        if device and _select_data(self.device_combo, str(device)) is False:
            notices.append(f"device '{device}' is not available here: kept {self.device()}")
        if measurements is not None:
            self.set_measurements(measurements)
        return notices

    # -- state -------------------------------------------------------------------------------
    def set_capture(self, capture: Capture | None) -> None:
        self.meas_list.clear()
        if capture is None:
            return
        for i in range(capture.n_meas):
            item = QListWidgetItem(str(i))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if i == 0 else Qt.CheckState.Unchecked)
            self.meas_list.addItem(item)

    def set_running(self, running: bool, can_continue: bool = False) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.continue_button.setEnabled(not running and can_continue)
        self.algo_combo.setEnabled(not running)

    def _check_all(self, state: bool) -> None:
        self.set_measurements(None if state else [])

    def _algo_changed(self) -> None:
        name = self.algorithm()
        spec = get_algorithm(name)
        self.algo_help.setText(spec.description)
        self.form.set_settings_type(spec.settings_type, self._defaults.get(name))
        self.sigAlgorithmChanged.emit(name)


def _select_data(combo: QComboBox, value: str) -> bool:
    """Select the item whose data is ``value``; False (selection unchanged) when there is none."""
    i = combo.findData(value)
    if i >= 0:
        combo.setCurrentIndex(i)
    return i >= 0
