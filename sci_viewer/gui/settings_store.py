"""What the app remembers (QSettings) and run configurations saved as YAML."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


class SettingsStore:
    """Typed access to the app's QSettings: layout, last folders, fps, colormap, recent files,
    default algorithm settings. ``QSettings`` is written as values change."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings("sci_viewer", "sci_viewer")

    # -- plain values ------------------------------------------------------------------------
    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self.qsettings.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    def last_folder(self, what: str = "capture") -> str:
        return str(self._get(f"folders/{what}", str(Path.home()), str))

    def set_last_folder(self, what: str, path: str | os.PathLike) -> None:
        p = Path(path)
        self.qsettings.setValue(f"folders/{what}", str(p if p.is_dir() else p.parent))

    def fps(self) -> float:
        return float(self._get("view/fps", 10.0, float))

    def set_fps(self, fps: float) -> None:
        self.qsettings.setValue("view/fps", float(fps))

    def colormap(self) -> str:
        return str(self._get("view/colormap", "gray", str))

    def set_colormap(self, name: str) -> None:
        self.qsettings.setValue("view/colormap", name)

    # -- recent files ------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        raw = self.qsettings.value("files/recent", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except (TypeError, ValueError):
            items = []
        return [str(i) for i in items][:MAX_RECENT]

    def add_recent_file(self, path: str | os.PathLike) -> list[str]:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent_files() if p != path]
        self.qsettings.setValue("files/recent", json.dumps(items[:MAX_RECENT]))
        return items[:MAX_RECENT]

    def remove_recent_file(self, path: str | os.PathLike) -> list[str]:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        self.qsettings.setValue("files/recent", json.dumps(items))
        return items

    # -- algorithm defaults ------------------------------------------------------------------
    def algorithm_defaults(self, algo: str) -> dict[str, Any]:
        raw = self.qsettings.value(f"algorithms/{algo}", "{}")
        try:
            value = json.loads(raw) if isinstance(raw, str) else {}
        except ValueError:
            value = {}
        return value if isinstance(value, dict) else {}

    def set_algorithm_defaults(self, algo: str, settings: dict[str, Any]) -> None:
        self.qsettings.setValue(f"algorithms/{algo}", json.dumps(settings))

    def last_algorithm(self) -> str:
        return str(self._get("run/algorithm", "gap-tv", str))

    def set_last_algorithm(self, algo: str) -> None:
        self.qsettings.setValue("run/algorithm", algo)

    # -- window layout -----------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()


def save_run_config(path: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write a run configuration as YAML (atomically: a temporary file, then a rename)."""
    try:
        from sci_viewer.export import save_config_yaml
    except ImportError:
        save_config_yaml = None
    if save_config_yaml is not None:
        return Path(save_config_yaml(path, config) or path)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_run_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run configuration saved by :func:`save_run_config` (or beside an export)."""
    from sci_viewer.errors import CaptureError

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CaptureError(f"Cannot read the run configuration {path}: {exc}") from None
    if not isinstance(data, dict) or "algo" not in data:
        raise CaptureError(f"{path} is not a run configuration (it has no 'algo' entry).")
    return data


def isolated_settings(path: str | os.PathLike) -> SettingsStore:
    """A SettingsStore on an INI file (tests, screenshots, benchmarks)."""
    return SettingsStore(QSettings(str(path), QSettings.Format.IniFormat))
