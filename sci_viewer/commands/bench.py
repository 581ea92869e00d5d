"""``sci-viewer bench NAME [ARGS]``: benchmarks that print figures (speed, memory, GUI latency).

Each benchmark is a module ``sci_viewer.benchmarks.<name>`` (dashes become underscores) with a
one-line docstring, ``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only
when chosen (the GUI benchmark imports Qt; the rest of the CLI must not).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import sci_viewer.benchmarks as benchmarks


def benchmark_names() -> list[str]:
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(benchmarks.__path__)
                  if not m.name.startswith("_"))


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help=f"run a benchmark: {', '.join(benchmark_names())}")
    p.add_argument("name", nargs="?", choices=benchmark_names(), metavar="NAME",
                   help=f"one of: {', '.join(benchmark_names())}")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the benchmark's own options (NAME --help)")
    return p


def run(args: argparse.Namespace) -> int:
    if not args.name:
        print(f"choose a benchmark: {', '.join(benchmark_names())}")
        return 2
    module = importlib.import_module(f"sci_viewer.benchmarks.{args.name.replace('-', '_')}")
    parser = argparse.ArgumentParser(prog=f"sci-viewer bench {args.name}",
                                     description=(module.__doc__ or "").strip())
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.args)) or 0)
