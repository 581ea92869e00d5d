"""``sci-viewer gui [CAPTURE] [--mask FILE]``: open the desktop application."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("gui", help="open the desktop application (no file: the built-in demo capture)")
    p.add_argument("capture", nargs="?", help="capture file to open; omitted: the built-in demo capture")
    p.add_argument("--mask", help="mask file, when the capture file has none")
    return p


def run(args: argparse.Namespace) -> int:
    # Qt is imported only here, so the rest of the CLI works without a display.
    from sci_viewer.gui.app import make_app, open_window

    app = make_app()
    window = open_window(args.capture, args.mask)  # noqa: F841 - kept alive while the loop runs
    return int(app.exec())
