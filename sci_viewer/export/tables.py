"""Small text exports: the per-iteration metrics as CSV and a job's configuration as YAML."""

from __future__ import annotations

import csv
import dataclasses
import enum
import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from sci_viewer.export.atomic import atomic_path

#: Columns of :func:`write_metrics_csv`, in order (attributes of ``engine.IterationEvent``).
METRIC_COLUMNS = ("measurement", "k", "residual", "data_residual", "psnr", "ssim", "seconds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def write_metrics_csv(path: str | os.PathLike, trace: Iterable[Any]) -> Path:
    """Write one row per iteration event: measurement, k, residual, data_residual, psnr, ssim, seconds.

    ``trace`` holds :class:`sci_viewer.engine.IterationEvent` objects (or mappings with those
    keys); missing metrics (no ground truth, SSIM skipped) are empty cells. Written atomically.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(METRIC_COLUMNS)
            for event in trace:
                get = event.get if isinstance(event, dict) else lambda k, e=event: getattr(e, k, None)
                writer.writerow([_cell(get(col)) for col in METRIC_COLUMNS])
    return final


def plain(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths, enums, tuples and dataclasses to YAML/JSON-safe data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def save_config_yaml(path: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write ``config`` (e.g. ``Job.config()``) as YAML, atomically; reload with ``yaml.safe_load``."""
    import yaml

    final = Path(path)
    text = yaml.safe_dump(plain(config), sort_keys=False, allow_unicode=True, default_flow_style=False)
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final
