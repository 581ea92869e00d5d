"""Where models and plugins are found: bundled with the package, in the user's folder, or in
folders named by environment variables.

The shipped models, model cards, training configs and plugins live in the repository's top-level
``resources/`` and ``plugins/`` folders; the wheel carries them as the packages
``sci_viewer.resources`` and ``sci_viewer.bundled_plugins`` (a ``package-dir`` mapping in
``pyproject.toml``), so :mod:`importlib.resources` finds them wherever the package is installed,
editable or not. A source checkout that is not installed at all (``PYTHONPATH``) falls back to the
folders beside the package.

Searched in this order (the first model of a name wins; plugins cannot replace a taken name):

==========  ==========================================================================
bundled     ``sci_viewer.resources/models``, ``sci_viewer.bundled_plugins``
user        :func:`user_data_dir` ``/models`` and ``/plugins``
env         ``$SCI_MODELS_DIR`` / ``$SCI_PLUGINS_DIR`` (and the older ``$SCI_VIEWER_PLUGINS``),
            each a list of folders separated by :data:`os.pathsep`
==========  ==========================================================================
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "sci-viewer"
BUNDLED, USER, ENV = "bundled", "user", "env"
_CHECKOUT = Path(__file__).resolve().parent.parent  # the repository root, when run from a checkout


@dataclass(frozen=True)
class Folder:
    """A folder to search and where it came from (``bundled``, ``user`` or ``env``)."""

    path: Path
    source: str


def _package_dir(package: str, checkout_name: str) -> Path:
    """The folder of the data package ``package``; from a bare checkout, ``checkout_name`` beside
    the package (a path that may not exist, e.g. when neither is there)."""
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        return _CHECKOUT / checkout_name
    return Path(str(root))  # installed packages are unpacked folders, never zips


def resources_dir() -> Path:
    """The bundled ``resources`` folder (``models/``, ``train/``)."""
    return _package_dir("sci_viewer.resources", "resources")


def bundled_plugins_dir() -> Path:
    """The bundled plugins folder (the repository's ``plugins/``)."""
    return _package_dir("sci_viewer.bundled_plugins", "plugins")


def checkout_root() -> Path | None:
    """The repository root when the package runs from a source checkout (editable or not), else None."""
    return _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "resources").is_dir() else None


def user_data_dir() -> Path:
    """The platform's per-user data folder for the app: ``$XDG_DATA_HOME/sci-viewer`` (default
    ``~/.local/share/sci-viewer``) on Linux, ``~/Library/Application Support/sci-viewer`` on macOS,
    ``%LOCALAPPDATA%\\sci-viewer`` on Windows. It need not exist."""
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP_NAME


def _env_folders(*names: str) -> list[Folder]:
    folders = []
    for name in names:
        folders += [Folder(Path(p).expanduser(), ENV) for p in os.environ.get(name, "").split(os.pathsep) if p]
    return folders


def model_folders() -> list[Folder]:
    """Folders searched for ``*.pt`` models, in order: bundled, user, ``$SCI_MODELS_DIR``."""
    return [Folder(resources_dir() / "models", BUNDLED), Folder(user_data_dir() / "models", USER),
            *_env_folders("SCI_MODELS_DIR")]


def plugin_folders() -> list[Folder]:
    """Folders searched for one-file plugins, in order: bundled, user, ``$SCI_PLUGINS_DIR``,
    ``$SCI_VIEWER_PLUGINS`` (the older name)."""
    return [Folder(bundled_plugins_dir(), BUNDLED), Folder(user_data_dir() / "plugins", USER),
            *_env_folders("SCI_PLUGINS_DIR", "SCI_VIEWER_PLUGINS")]


def training_config(name: str) -> Path | None:
    """A bundled training config by name (``degap-default`` or ``degap-default.yaml``), or None."""
    train = resources_dir() / "train"
    for candidate in (train / name, train / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    return None


def training_config_path(name_or_path: str) -> str:
    """What ``--config`` names: the file itself when it exists, else a bundled config of that name
    (:func:`training_config`), else the text as given (for the loader's 'does not exist' message)."""
    if Path(name_or_path).is_file():
        return name_or_path
    bundled = training_config(name_or_path)
    return str(bundled) if bundled else name_or_path
