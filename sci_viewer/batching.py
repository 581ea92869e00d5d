"""How the engine groups a job's measurements into batched solves, and drives joined solvers.

An algorithm that can join several measurements' solvers into one batched solve
(:attr:`~sci_viewer.algorithms.base.AlgorithmSpec.join_solvers`: DE-GAP, DE-RNN) gets
:func:`batch_size` measurements per batch; the engine then runs their per-measurement event
streams in lockstep with :func:`round_robin`, so consumers still see per-measurement events (all
measurements of the batch for iteration k, then for k + 1).

Whether a batch pays: on a GPU one network evaluation on N measurements costs far less than N;
on the CPU it does not, measured with ``sci-viewer bench batched-solve`` (see the README), so
there the automatic choice is one at a time.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, TypeVar

import torch

#: Measurements per batched solve chosen automatically on a GPU (more only on request).
GPU_BATCH = 8
#: ... and on the CPU, where batching measured no faster (1: one at a time).
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
