"""OpenMP's waiting policy, chosen before torch loads its OpenMP runtime.

PyTorch's CPU kernels run on an OpenMP thread pool (libgomp) whose idle threads spin for a while
between parallel regions (``OMP_WAIT_POLICY=ACTIVE``-like by default). On a machine whose cores
are shared with other work -- these 2-core machines with a training run in the background -- a
spinning thread takes the core its partner needs, and every one of the thousands of small
parallel regions of a training step waits for a descheduled thread. ``PASSIVE`` lets idle threads
sleep: results are bit-for-bit the same, and on such a machine a DEQ training step ran 8-22x
faster (``sci-viewer bench train-speed --baseline . --env OMP_WAIT_POLICY=PASSIVE``, 2026-12-03).
libgomp reads the variable once, when it is loaded, so this must run before ``import torch``;
a value the user set is kept (``OMP_WAIT_POLICY=ACTIVE`` restores the spinning).
"""

from __future__ import annotations

import os
import sys

#: the value the process was started with (None: unset), before :func:`prefer_passive_wait`
STARTED_WITH = os.environ.get("OMP_WAIT_POLICY")


def prefer_passive_wait() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless it is set or torch (and its OpenMP) is already loaded."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
