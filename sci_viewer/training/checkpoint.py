"""Training checkpoints: everything needed to resume (model, optimiser, scheduler, step, RNGs).

Written atomically (temporary file, then rename) so an interrupted write never leaves a broken
``last.pt``. Model-only exports use the model file format of :mod:`sci_viewer.models`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    # Our own file (it holds RNG states and the numpy generator state): full unpickling is needed.
    return torch.load(path, map_location="cpu", weights_only=False)
