"""Data-parallel training under ``torchrun``: the process group, one device per rank, gradient averaging.

``torchrun --standalone --nproc-per-node N -m sci_viewer train --config X`` starts N processes with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set; :func:`from_env` joins them into one process group
(gloo on the CPU, NCCL on CUDA with GPU ``LOCAL_RANK`` for each rank). Without those variables (or
with ``WORLD_SIZE=1``) it returns :data:`SINGLE`, whose collectives do nothing, so a single process
trains exactly as before.

What the trainer does with a :class:`Ranks`:

- every rank draws its own batches (:func:`rank_seed`: rank 0 keeps the config's seed, so rank 0 of
  a run is the single-process run's sampling), so the world sees ``N x batch`` samples a step;
- the initial weights are broadcast from rank 0 (:meth:`Ranks.broadcast_module`), and after each
  backward :meth:`Ranks.average_gradients` all-reduces the flattened gradients once and divides by
  N -- what :class:`torch.nn.parallel.DistributedDataParallel` does. The module is not wrapped in
  DDP itself: a DEQ step calls the network a rank-dependent number of times without gradients (each
  rank's Anderson solve stops at its own iteration) and two or more times with them, and the
  trainer reads model attributes (``noise_input``, ``iterate``) that a wrapper would hide;
- rank 0 alone validates, logs and writes checkpoints and exports; the others wait at
  :meth:`Ranks.barrier`; a stop request (SIGTERM, Ctrl-C) on any rank stops all of them after the
  same step (:meth:`Ranks.any`).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

#: how long ranks wait for each other (rank 0's validation or checkpoint writes included)
TIMEOUT = datetime.timedelta(minutes=60)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the training world (``world_size == 1``: no process group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this rank writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: on CUDA, GPU ``LOCAL_RANK`` (one per rank); the CPU as it is."""
        if self.active and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether ``flag`` is set on any rank (the same answer everywhere)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def broadcast_module(self, module: nn.Module) -> None:
        """Make every rank's parameters and buffers rank 0's (as DDP does when it wraps a module)."""
        if not self.active:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=0)

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Replace every gradient by its mean over the ranks: one all-reduce of the flattened
        gradients (a parameter without a gradient counts as zero on that rank)."""
        if not self.active:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(self.world_size)
        offset = 0
        for p, g in zip(params, grads):
            mean = flat[offset : offset + g.numel()].view_as(p)
            if p.grad is None:
                p.grad = mean.clone()
            else:
                p.grad.copy_(mean)
            offset += g.numel()


SINGLE = Ranks()


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher) as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def from_env(device: torch.device) -> Ranks:
    """Join the process group ``torchrun`` describes in the environment (:data:`SINGLE` when there is
    none): gloo for CPU training, NCCL for CUDA (each rank on GPU ``LOCAL_RANK``)."""
    if not launched():
        return SINGLE
    ranks = Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(ranks.local_rank)
            dist.init_process_group("nccl", timeout=TIMEOUT, device_id=torch.device("cuda", ranks.local_rank))
        else:
            dist.init_process_group("gloo", timeout=TIMEOUT)
    return ranks


def shutdown(ranks: Ranks) -> None:
    """Leave the process group (after the last collective)."""
    if ranks.active and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int, step: int = 0) -> int | list[int]:
    """The numpy seed of ``rank``'s data and masks: the config's seed on rank 0 of a fresh run (the
    single-process stream), a stream of its own for every other rank, and, for a run resumed at
    ``step`` (rank 0 restores its saved generator), a fresh one per (rank, step)."""
    if rank == 0 and step == 0:
        return seed
    return [seed, rank, step]
