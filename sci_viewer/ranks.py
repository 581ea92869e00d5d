"""The process's place among ``torchrun`` workers: rank, world size, its GPU, and a gather to rank 0.

``torchrun`` (or ``srun`` starting it) sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` for each
worker; without them this is a world of one and nothing is initialised. With several workers the
merge of small Python records goes through a gloo process group (it runs on the CPU whatever
device the work used, and needs no GPU per rank).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch

from sci_viewer.training.distributed import Ranks

# A rank that finishes its share early waits for the slowest one at the merge: allow a long night.
MERGE_TIMEOUT = timedelta(hours=48)


def world_from_env(environ: dict[str, str] | None = None) -> Ranks:
    """The world ``torchrun`` describes in the environment (a world of one without it); joins no group."""
    env = os.environ if environ is None else environ
    size = int(env.get("WORLD_SIZE", "1"))
    rank = int(env.get("RANK", "0"))
    local = int(env.get("LOCAL_RANK", str(rank)))
    if not 0 <= rank < size:
        raise ValueError(f"RANK {rank} is outside WORLD_SIZE {size}")
    return Ranks(rank, size, local)


def device_for(world: Ranks, requested: str) -> str:
    """``requested``, except that ``auto`` / ``cuda`` becomes ``cuda:LOCAL_RANK`` when several workers
    share a machine with several GPUs (each worker its own GPU)."""
    if requested not in ("auto", "cuda") or world.world_size < 2 or not torch.cuda.is_available():
        return requested
    count = torch.cuda.device_count()
    return f"cuda:{world.local_rank % count}" if count > 1 else requested


class Merge:
    """A context in which :meth:`gather` collects one picklable object per worker on rank 0."""

    def __init__(self, world: Ranks) -> None:
        self.world = world
        self._owns = False

    def __enter__(self) -> Merge:
        import torch.distributed as dist

        if self.world.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("gloo", rank=self.world.rank, world_size=self.world.world_size,
                                    timeout=MERGE_TIMEOUT)
            self._owns = True
        return self

    def gather(self, obj: Any) -> list[Any] | None:
        """Every worker's ``obj`` in rank order on rank 0; None on the others."""
        if self.world.world_size < 2:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world.world_size if self.world.main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def __exit__(self, *exc: object) -> None:
        if self._owns:
            import torch.distributed as dist

            dist.destroy_process_group()
