"""Load plugins: one-file plugins from the plugin folders, and packages registered under the entry
point group ``sci_viewer.plugins``.

The folders (:func:`sci_viewer.locations.plugin_folders`): the bundled plugins, the user's
``plugins`` folder, ``$SCI_PLUGINS_DIR`` and ``$SCI_VIEWER_PLUGINS``; every ``*.py`` there not
starting with ``_`` is imported. An entry point names a module (importing it registers what it adds)
or a function taking no arguments (called once). A plugin registers itself with
``register_algorithm`` / ``register_denoiser``; one that fails to load is reported in
``load_errors``, not fatal, and may add names but not replace one already taken.
:data:`loaded_plugins` lists every plugin seen, with where it came from and what it registered.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sci_viewer.locations import plugin_folders

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "sci_viewer.plugins"
ENTRY_POINT = "entry point"


@dataclass(frozen=True)
class PluginInfo:
    """A plugin seen by :func:`load_plugins`.

    ``source``: ``bundled``, ``user``, ``env`` or ``entry point``; ``location``: the file, or the
    entry point's target and distribution; ``registered``: e.g. ``("algorithm gap-median",)``;
    ``error``: why it was (partly) refused, or None.
    """

    name: str
    source: str
    location: str
    registered: tuple[str, ...] = ()
    error: str | None = None


load_errors: dict[str, str] = {}  # location -> problem
loaded_plugins: list[PluginInfo] = []
_loaded: set[str] = set()


def plugin_dirs() -> list[Path]:
    """The plugin folders, in the order they are loaded."""
    return [folder.path for folder in plugin_folders()]


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


def _load_one(name: str, source: str, location: str, action: Callable[[], None],
              registries: dict[str, dict]) -> bool:
    """Run ``action`` (which imports a plugin), keep what it registered that is allowed, and record
    it in :data:`loaded_plugins` (and a problem in :data:`load_errors`); False if it raised."""
    before = {kind: dict(registry) for kind, registry in registries.items()}
    try:
        action()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a broken plugin (even sys.exit) must not take the app down
        _check_registrations(before, registries)
        error = (f"it called sys.exit({exc.code!r}) while loading" if isinstance(exc, SystemExit)
                 else f"{type(exc).__name__}: {exc}")
        ok = False
    else:
        error, ok = _check_registrations(before, registries), True
    registered = tuple(f"{kind} {key}" for kind, registry in registries.items()
                       for key in registry if key not in before[kind])
    if error:
        load_errors[location] = error
        log.warning("plugin %s: %s", location, error)
    loaded_plugins.append(PluginInfo(name, source, location, registered, error))
    return ok


def _import_file(path: Path) -> Callable[[], None]:
    def action() -> None:
        name = _module_name(path)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look modules up here
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    return action


def _load_entry_point(ep: importlib.metadata.EntryPoint) -> Callable[[], None]:
    def action() -> None:
        target = ep.load()  # importing the module registers what it adds
        if callable(target) and not inspect.ismodule(target) and not inspect.isclass(target):
            target()  # a register() function
    return action


def _entry_point_location(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{ep.value} ({dist.name} {dist.version})" if dist is not None else ep.value


def load_plugins() -> list[str]:
    """Load each plugin file and entry point once; return the names loaded now (file stems and
    entry point names). Failures go to ``load_errors``; everything seen to ``loaded_plugins``.

    A plugin may add algorithms and denoisers but not replace one already registered (a built-in
    or an earlier plugin's): such a registration is undone and reported."""
    loaded = []
    registries = _registries()
    for folder in plugin_folders():
        if not folder.path.is_dir():
            continue
        for path in sorted(folder.path.glob("*.py")):
            key = str(path.resolve())
            if path.name.startswith("_") or key in _loaded:
                continue
            _loaded.add(key)
            if _load_one(path.stem, folder.source, str(path), _import_file(path), registries):
                loaded.append(path.stem)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        location = _entry_point_location(ep)
        key = f"{ENTRY_POINT}:{ep.name}={ep.value}"
        if key in _loaded:
            continue
        _loaded.add(key)
        if _load_one(ep.name, ENTRY_POINT, location, _load_entry_point(ep), registries):
            loaded.append(ep.name)
    return loaded
