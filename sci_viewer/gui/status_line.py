"""The status bar's run line: what is happening, the estimated time left, and a progress bar."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from sci_viewer.progress import TimeEstimate


class StatusLine(QWidget):
    """A message (``label``), the time left of the running job (``time_label``) and a progress bar
    (``progress``, shown while a run with a known iteration budget runs)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("ready")
        self.time_label = QLabel("")
        self.time_label.setObjectName("timeLeftLabel")
        self.time_label.setToolTip("Estimated from the recent iteration rate and, for solvers that stop on a "
                                   "tolerance, the residual's trend extrapolated to it (≤: bounded by the cap)")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(self.progress)

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def text(self) -> str:
        return self.label.text()

    def set_estimate(self, estimate: TimeEstimate | None) -> None:
        """Show ``estimate`` (None: a run is not going on, nothing shown)."""
        self.time_label.setText("" if estimate is None else estimate.text())

    def time_text(self) -> str:
        return self.time_label.text()

    def start_progress(self, total: int) -> None:
        """Show the bar from 0 to ``total`` (0: busy indicator)."""
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.setVisible(True)

    def set_progress(self, value: int) -> None:
        self.progress.setValue(value)

    def end_progress(self) -> None:
        self.progress.setVisible(False)
        self.time_label.setText("")
