"""Process-wide settings read from the environment (one place for each)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sci_viewer.locations import resources_dir

_REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DIR = resources_dir()  # the bundled resources, wherever installed (sci_viewer.locations)


def data_dir() -> Path:
    """Folder of the shared CACTI data: ``$SCI_DATA_DIR``, default ``../shared/data`` beside the repo."""
    env = os.environ.get("SCI_DATA_DIR")
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "data"


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto | cpu | cuda | cuda:N`` to a device; ``auto`` picks CUDA when present."""
    from sci_viewer.errors import JobError

    name = (str(name) if name else "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, _, number = name.partition(":")
    if kind not in ("cpu", "cuda") or (number and not number.isdigit()) or (kind == "cpu" and number):
        raise JobError(f"Unknown device '{name}'; use auto, cpu, cuda or cuda:N.")
    if kind == "cuda" and not torch.cuda.is_available():
        raise JobError(f"Device '{name}' was requested but no CUDA GPU is available; use 'cpu' or 'auto'.")
    if number and int(number) >= torch.cuda.device_count():
        raise JobError(f"Device '{name}' does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s).")
    return torch.device(name)


def available_devices() -> list[tuple[str, str]]:
    """(id, human label) for every device a job can run on, ``auto`` first."""
    devices = [("auto", "Auto"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append((f"cuda:{i}", f"cuda:{i} — {torch.cuda.get_device_name(i)}"))
    return devices
