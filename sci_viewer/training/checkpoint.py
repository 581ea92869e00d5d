"""Training checkpoints: everything needed to resume (model, optimiser, scheduler, step, RNGs).

Written atomically (temporary file, then rename) so an interrupted write never leaves a broken
``last.pt``. Model-only exports use the model file format of :mod:`sci_viewer.models`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from sci_viewer.errors import JobError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


#: what every checkpoint written by :func:`save_checkpoint` from the trainer holds
KEYS = ("config", "step", "model")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The training state saved at ``path``; a JobError for a file that is not one (unreadable, or a model file)."""
    try:
        # Our own file (it holds RNG states and the numpy generator state): full unpickling is needed.
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises pickle, zip and OS errors alike
        raise JobError(f"'{path}' could not be read as a training checkpoint: {exc}") from None
    missing = [k for k in KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise JobError(f"'{path}' is not a training checkpoint of 'sci-viewer train' (no {', '.join(missing)}); "
                       "a model file belongs in a config's init_from, not in a run folder to resume or export "
                       "with --pick last.")
    return state
