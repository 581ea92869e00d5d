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


def load_plugins() -> list[str]:
    """Import each plugin file once; return the names loaded now. Failures go to ``load_errors``."""
    loaded = []
    for folder in plugin_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_") or path.resolve() in _loaded:
                continue
            _loaded.add(path.resolve())
            name = f"sci_viewer_plugin_{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(name, path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # dataclasses and pickling look modules up here
                spec.loader.exec_module(module)
                loaded.append(path.stem)
            except Exception as exc:  # a broken plugin must not take the app down
                sys.modules.pop(name, None)
                load_errors[str(path)] = f"{type(exc).__name__}: {exc}"
                log.warning("plugin %s failed to load: %s", path, exc)
    return loaded
