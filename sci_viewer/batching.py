"""How the engine groups a job's measurements into batched solves, and drives joined solvers.

An algorithm that can join several measurements' solvers into one batched solve
(:attr:`~sci_viewer.algorithms.base.AlgorithmSpec.join_solvers`: DE-GAP, DE-RNN) gets
:func:`batch_size` measurements per batch; the engine then runs their per-measurement event
streams in lockstep with :func:`round_robin`, so consumers still see per-measurement events (all
measurements of the batch for iteration k, then for k + 1).

Whether a batch pays: on a GPU one network evaluation on N measurements costs far less than N
evaluations on one (not measured here: no GPU was lent), so a GPU batches. On these 2-core CPUs it does not: ``sci-viewer bench
batched-solve`` (DE-GAP, 4 measurements, 8 iterations each, best of 2, 2026-12-03, machine shared
with other jobs) took 13.84 s one at a time and 16.56 s as one batch at 8 x 256 x 256 with
``OMP_NUM_THREADS=1`` (0.84x), 2.06 s and 2.34 s at 8 x 128 x 128 (0.88x). With 2 threads on the
overloaded machine (load 8-12) batching came out 2.68x faster (75.3 s against 28.0 s), but that is
fewer thread barriers under oversubscription, not less work; so the CPU solves one at a time.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, TypeVar

import torch

#: Measurements per batched solve chosen automatically on a GPU (more only on request).
GPU_BATCH = 8
#: ... and on the CPU (1: one at a time; measured above).
CPU_BATCH = 1

K = TypeVar("K")


def batch_size(requested: int | None, spec: Any, device: torch.device, n: int) -> int:
    """Measurements per batched solve: ``requested`` (None: automatic) within 1..n, 1 where the
    algorithm cannot join solvers."""
    if getattr(spec, "join_solvers", None) is None or n < 2:
        return 1
    if requested is None:
        requested = GPU_BATCH if device.type == "cuda" else CPU_BATCH
    return max(1, min(int(requested), n))


def round_robin(streams: Mapping[K, Iterator[Any]], tick: type) -> Iterator[tuple[K, Any]]:
    """``(key, event)`` from each stream in turn, one ``tick`` event (and what comes before it) at a
    time, until every stream is exhausted."""
    live = dict(streams)
    while live:
        for key in list(live):
            for event in live[key]:
                yield key, event
                if isinstance(event, tick):
                    break
            else:
                del live[key]
