"""The shared benchmark scenes and the measurements the field evaluates on each."""

from __future__ import annotations

from sci_viewer.capture import Capture
from sci_viewer.errors import CaptureError
from sci_viewer.settings import data_dir

# traffic: all measurements; runner and drop: the first only (see ../shared/data/README.md).
BENCHMARK_SCENES: dict[str, list[int]] = {"traffic48": list(range(6)), "runner40": [0], "drop40": [0]}


def load_scene(name: str) -> Capture:
    from sci_viewer.io import load_capture

    path = data_dir() / "benchmark" / f"{name}_cacti.mat"
    if not path.exists():
        raise CaptureError(f"benchmark file {path} not found; set SCI_DATA_DIR to the shared data folder.")
    return load_capture(path)
