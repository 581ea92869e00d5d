"""The log panel: a read-only, timestamped list of what happened (also written to a log file).

An error's details (a traceback) go to the log file always and to the panel only when asked: an
expected refusal shows the operator its message, an unexpected exception its traceback too.
"""

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
    """Shows log lines; :meth:`append_line` is safe from any thread (it goes through a signal).

    ``sigLine(panel_text, file_text)`` carries a line as the panel shows it and as the file keeps it.
    """

    sigLine = Signal(str, str)

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

    def append_line(self, message: str, level: str = "INFO", file_extra: str = "") -> None:
        """Add ``message``; ``file_extra`` (e.g. a traceback) goes to the log file only."""
        line = f"{time.strftime('%H:%M:%S')} {level:7} {message}"
        self.sigLine.emit(line, line + (f"\n{file_extra.rstrip()}" if file_extra else ""))

    def info(self, message: str) -> None:
        self.append_line(message, "INFO")

    def warning(self, message: str) -> None:
        self.append_line(message, "WARNING")

    def error(self, message: str, details: str = "", show_details: bool = True) -> None:
        """An error line; ``details`` under it in the panel only if ``show_details`` (always in the file)."""
        if show_details:
            self.append_line(message + (f"\n{details.rstrip()}" if details else ""), "ERROR")
        else:
            self.append_line(message, "ERROR", file_extra=details)

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()

    def _append(self, line: str, file_line: str) -> None:
        self.appendPlainText(line)
        self.moveCursor(QTextCursor.MoveOperation.End)
        log.info(file_line)
        if self._file is not None:
            try:
                with self._file.open("a", encoding="utf-8") as f:
                    f.write(file_line + "\n")
            except OSError:
                self._file = None
