"""Application setup: ``run_app(argv)`` parses ``[CAPTURE] [--mask FILE]`` and opens the window."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from sci_viewer.gui.main_window import MainWindow
from sci_viewer.gui.pg_config import configure_pyqtgraph

__all__ = ["configure_pyqtgraph", "make_app", "open_window", "run_app", "build_parser", "reserve_gui_core", "settle_gc"]


def reserve_gui_core() -> int:
    """Leave one CPU core to the GUI thread: torch's intra-op threads = cores − 1 (at least 1).

    Skipped when ``OMP_NUM_THREADS`` is set. On a small machine two solver threads plus the GUI
    thread oversubscribe the cores and both the redraws and the solver slow down. Returns the
    thread count in use.
    """
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 2
        torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - 1)))
    return torch.get_num_threads()


def settle_gc() -> None:
    """Collect, then freeze what exists now (modules, widgets): the cyclic GC never scans those again.

    A full collection holds the GIL for as long as it scans every tracked object -- with torch, Qt
    and pyqtgraph loaded, long enough to stall the GUI thread by 100+ ms during a DE-RNN run (seen
    in 3 of 7 ``bench gui-latency --algo de-rnn`` runs; none in 3 with the GC disabled).
    """
    gc.collect()
    gc.freeze()


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once) with the app's names set for QSettings.

    Also shortens Python's thread switch interval (5 ms → 1 ms): the GUI thread then waits less
    for the GIL while a worker thread runs Python code between its tensor operations.
    """
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
    reserve_gui_core()
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName("sci_viewer")
    app.setApplicationName("sci_viewer")
    configure_pyqtgraph()
    settle_gc()
    return app  # type: ignore[return-value]


def open_window(capture: str | None = None, mask: str | None = None, settings=None) -> MainWindow:
    """Create and show the main window; load ``capture`` (or the demo) in the background."""
    configure_pyqtgraph()
    window = MainWindow(settings=settings)
    window.show()
    if capture:
        window.open_capture(Path(capture), mask_path=Path(mask) if mask else None)
    else:
        if mask:
            window.log.warning("--mask was given without a capture file; ignored (the demo has its own mask)")
        window.load_demo()
    settle_gc()
    return window


def build_parser(prog: str = "sci-viewer gui") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Open the sci_viewer desktop application.")
    p.add_argument("capture", nargs="?", help="capture file to open; omitted: the built-in demo capture")
    p.add_argument("--mask", help="mask file, when the capture file has none")
    return p


def run_app(argv: list[str] | None = None) -> int:
    """Entry point of ``python main.py``: open the window and run the event loop."""
    args = build_parser("main.py").parse_args(argv)
    app = make_app()
    window = open_window(args.capture, args.mask)  # noqa: F841 - keep a reference while the loop runs
    return int(app.exec())
