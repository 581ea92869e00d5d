"""Reconstruction algorithms, registered by name (see :mod:`sci_viewer.algorithms.base`)."""

from __future__ import annotations

import importlib

from sci_viewer.algorithms.base import (
    AlgorithmSpec,
    Solver,
    algorithm_names,
    get_algorithm,
    register_algorithm,
)

_BUILTIN = ["sci_viewer.algorithms.gap_tv", "sci_viewer.algorithms.deq", "sci_viewer.algorithms.pnp",
            "sci_viewer.algorithms.dernn"]
_loaded = False


def load_builtin() -> None:
    """Import the built-in algorithm modules and the plugins once (each registers itself)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a module not written yet
            if exc.name != module:
                raise
    from sci_viewer.plugins import load_plugins

    load_plugins()


__all__ = ["AlgorithmSpec", "Solver", "algorithm_names", "get_algorithm", "register_algorithm", "load_builtin"]
