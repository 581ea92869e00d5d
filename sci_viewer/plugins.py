"""Load plugin files: every ``*.py`` in the repository's ``plugins/`` folder and in the folders
listed in ``$SCI_VIEWER_PLUGINS`` (``os.pathsep``-separated). A plugin registers itself on import
(``register_algorithm`` / ``register_denoiser``); one that fails to import is reported, not fatal.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

from sci_viewer.settings import RESOURCES_DIR

log = logging.getLogger(__name__)
PLUGIN_DIRS = [RESOURCES_DIR.parent / "plugins"]
load_errors: dict[str, str] = {}
_loaded: set[Path] = set()


def plugin_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("SCI_VIEWER_PLUGINS", "").split(os.pathsep) if p]
    return PLUGIN_DIRS + extra


def _registries() -> dict[str, dict]:
    from sci_viewer.algorithms.base import _REGISTRY
    from sci_viewer.models import _DENOISERS, _load_builtin

    _load_builtin()  # the built-in denoisers first, so a plugin cannot slip in under their names
    return {"algorithm": _REGISTRY, "denoiser": _DENOISERS}


def _module_name(path: Path) -> str:
    """``sci_viewer_plugin_<stem>``, numbered when another folder's plugin has the same file name
    (dataclasses and pickling look a plugin's classes up by module name)."""
    name, n = f"sci_viewer_plugin_{path.stem}", 1
    while name in sys.modules:
        n += 1
        name = f"sci_viewer_plugin_{path.stem}_{n}"
    return name


def _check_registrations(before: dict[str, dict], registries: dict[str, dict]) -> str | None:
    """Undo what a plugin registered under a name already taken, or with settings that need
    values; return why (None: all fine)."""
    problems = []
    for kind, registry in registries.items():
        for key, value in list(registry.items()):
            if key in before[kind] and before[kind][key] is not value:
                registry[key] = before[kind][key]
                problems.append(f"it registers the {kind} '{key}', which is already taken; give it another name")
            elif key not in before[kind] and kind == "algorithm":
                try:
                    value.settings()
                except Exception as exc:  # noqa: BLE001 - a plugin's settings must work with their defaults
                    del registry[key]
                    problems.append(f"the algorithm '{key}' has settings without defaults ({exc})")
    return "; ".join(problems) or None


def load_plugins() -> list[str]:
    """Import each plugin file once; return the names loaded now. Failures go to ``load_errors``.

    A plugin may add algorithms and denoisers but not replace one already registered (a built-in
    or an earlier plugin's): such a registration is undone and reported."""
    loaded = []
    registries = _registries()
    for folder in plugin_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_") or path.resolve() in _loaded:
                continue
            _loaded.add(path.resolve())
            name = _module_name(path)
            before = {kind: dict(registry) for kind, registry in registries.items()}
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # dataclasses and pickling look modules up here
                spec.loader.exec_module(module)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - a broken plugin (even sys.exit) must not take the app down
                sys.modules.pop(name, None)
                _check_registrations(before, registries)
                load_errors[str(path)] = (f"it called sys.exit({exc.code!r}) while loading"
                                          if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}")
                log.warning("plugin %s failed to load: %s", path, exc)
                continue
            problem = _check_registrations(before, registries)
            if problem:
                load_errors[str(path)] = problem
                log.warning("plugin %s: %s", path, problem)
            loaded.append(path.stem)
    return loaded
