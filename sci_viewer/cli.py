"""``sci-viewer`` command line. Each subcommand lives in :mod:`sci_viewer.commands` as a module
with ``add_parser(subparsers)`` and ``run(args) -> int``; listing it in ``COMMANDS`` wires it up."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from sci_viewer.errors import SciViewerError

COMMANDS = ["info", "reconstruct", "batch", "bench", "train", "gui", "models", "plugins"]


def version_line() -> str:
    """``sci-viewer VERSION (FOLDER)``: the version and where the package was imported from."""
    import sci_viewer

    return f"sci-viewer {sci_viewer.__version__} ({Path(sci_viewer.__file__).parent})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sci-viewer",
        description="Reconstruct video snapshot compressive imaging (CACTI) captures.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and where the package is, and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sci_viewer.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sci_viewer.commands.{name}":
                raise
            continue
        p = module.add_parser(sub)
        p.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:  # printed here: argparse's version action wraps long paths
        print(version_line())
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except SciViewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
