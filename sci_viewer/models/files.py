"""The model file format: ``{"arch", "kwargs", "state_dict", "meta"}`` written by :func:`torch.save`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from sci_viewer.errors import JobError


def save_model(net: nn.Module, path: str | Path, arch: str, kwargs: dict[str, Any], meta: dict[str, Any] | None = None) -> Path:
    """Write ``net`` as a model file ``{"arch", "kwargs", "state_dict", "meta"}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"arch": arch, "kwargs": dict(kwargs), "state_dict": state, "meta": dict(meta or {})}, path)
    return path


def read_model_file(path: Path) -> dict[str, Any]:
    """A model file's contents (``arch``, ``kwargs``, ``state_dict``, ``meta``), or a JobError saying
    what is wrong with the file."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise JobError(f"Model file {path} does not exist.") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged or foreign file
        # torch's own text advises unsafe loading and filing issues, which is not for a user: the kind only
        raise JobError(f"Cannot read model file {path}: not a torch file, or damaged ({type(exc).__name__}).") from None
    if not isinstance(blob, dict) or "arch" not in blob or "state_dict" not in blob:
        raise JobError(f"{path} is not a sci_viewer model file (it needs 'arch' and 'state_dict'; "
                       "`sci-viewer train --export` writes one).")
    return blob
