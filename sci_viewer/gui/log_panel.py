"""The log panel: a read-only, timestamped list of what happened (also written to a log file)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget

log = logging.getLogger("sci_viewer.gui")

_MAX_LINES = 5000


def log_file_path() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".sci_viewer") / "sci_viewer.log"


class LogPanel(QPlainTextEdit):
    """Shows log lines; :meth:`append_line` is safe from any thread (it goes through a signal)."""

    sigLine = Signal(str)

    def __init__(self, parent: QWidget | None = None, log_file: Path | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(_MAX_LINES)
        self.setObjectName("logPanel")
        self.sigLine.connect(self._append)
        self._file: Path | None = None
        if log_file is not None:
            try:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                self._file = log_file
            except OSError:
                self._file = None

    def append_line(self, message: str, level: str = "INFO") -> None:
        line = f"{time.strftime('%H:%M:%S')} {level:7} {message}"
        self.sigLine.emit(line)

    def info(self, message: str) -> None:
        self.append_line(message, "INFO")

    def warning(self, message: str) -> None:
        self.append_line(message, "WARNING")

    def error(self, message: str, details: str = "") -> None:
        self.append_line(message + (f"\n{details.rstrip()}" if details else ""), "ERROR")

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()

    def _append(self, line: str) -> None:
        self.appendPlainText(line)
        self.moveCursor(QTextCursor.MoveOperation.End)
        log.info(line)
        if self._file is not None:
            try:
                with self._file.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:
                self._file = None
