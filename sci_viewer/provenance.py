"""What made a result: the package version, torch's, and the exact model weights (by SHA-256).

:meth:`sci_viewer.engine.Job.config` adds :func:`provenance` to every run configuration, so the YAML
written beside an export traces the reconstruction to the code and the weights that made it.
"""

from __future__ import annotations

from typing import Any

import torch

import sci_viewer
from sci_viewer.errors import JobError

MODEL_SETTINGS = ("model",)  # settings that name a model file (the built-ins' and the plugin convention)


def provenance(settings: dict[str, Any]) -> dict[str, Any]:
    """``{"sci_viewer": version, "torch": version, "model": {name, file, source, sha256}}``; the
    ``model`` entry only when a setting names a model (a missing one is recorded as not found)."""
    from sci_viewer.models import auto, model_record

    record: dict[str, Any] = {"sci_viewer": sci_viewer.__version__, "torch": str(torch.__version__)}
    for key in MODEL_SETTINGS:
        name = settings.get(key)
        if name == auto.AUTO:  # DE-GAP's rule: both candidates (the report's notes say which each measurement took)
            record[key] = auto.record()
        elif isinstance(name, str) and name:
            try:
                record[key] = model_record(name)
            except JobError:
                record[key] = {"name": name, "file": None, "source": None, "sha256": None}
    return record
