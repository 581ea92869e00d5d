"""How the engine groups a job's measurements into batched solves, and drives joined solvers.

An algorithm that can join several measurements' solvers into one batched solve
(:attr:`~sci_viewer.algorithms.base.AlgorithmSpec.join_solvers`: DE-GAP, DE-RNN) gets
:func:`batch_size` measurements per batch; the engine then runs their per-measurement event
streams in lockstep with :func:`round_robin`, so consumers still see per-measurement events (all
measurements of the batch for iteration k, then for k + 1).

Whether a batch pays: on a GPU one network evaluation on N measurements costs far less than N
evaluations on one. On the CPU it paid too (``sci-viewer bench batched-solve --demo 256,8,4
--iters 8 --repeats 3``, DE-GAP, 2026-12-03, the 2-core machine shared with other jobs, load 8-12:
75.3 s one at a time, 28.0 s as one batch, 2.68x), but the automatic choice there stays one at a
time, for the app: each measurement's result arrives as early as it can and the views follow one
measurement. Work nobody watches (``sci-viewer batch``) asks for :data:`THROUGHPUT_BATCH`.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, TypeVar

import torch

#: Measurements per batched solve chosen automatically on a GPU (more only on request).
GPU_BATCH = 8
#: ... and on the CPU (1: one at a time; see above).
CPU_BATCH = 1
#: Measurements per batched solve on any device for unwatched work (``sci-viewer batch``).
THROUGHPUT_BATCH = 8

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
