"""What the views show: arrays for a source name and measurement, from the capture and runs.

Capture-derived arrays (scaled measurement, ground truth, mask) are converted once and cached;
run estimates are the run store's own arrays (no copies). The measurement residual map
``|y - A x|`` of the current run's estimate is computed when asked for (one A x, a few ms at
512 x 512 x 10) and kept until that estimate is replaced.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sci_viewer.capture import Capture
from sci_viewer.gui.compare_view import DIFF_KEY, NONE_KEY
from sci_viewer.gui.run_controller import RunController
from sci_viewer.gui.video_view import RESIDUAL_SOURCE

TRUTH_KEY = "truth"


class ViewData:
    """Providers for :class:`VideoView` (by source name) and :class:`CompareView` (by key)."""

    def __init__(self, runs: RunController) -> None:
        self.runs = runs
        self.capture: Capture | None = None
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self._residual: tuple[np.ndarray, np.ndarray] | None = None  # (estimate, its map)

    def set_capture(self, capture: Capture | None) -> None:
        self.capture = capture
        self._cache.clear()

    def _cached(self, key: str, meas: int, make: Callable[[], np.ndarray | None]) -> np.ndarray | None:
        if (key, meas) not in self._cache:
            value = make()
            if value is None:
                return None
            self._cache[(key, meas)] = value
        return self._cache[(key, meas)]

    def video(self, source: str, meas: int) -> np.ndarray | None:
        """Estimate (of the current run), Ground truth, Measurement or Mask for measurement ``meas``."""
        c = self.capture
        if c is None or meas >= c.n_meas:
            return None
        if source == "Estimate":
            record = self.runs.current
            return None if record is None else record.estimates.get(meas)
        if source == "Ground truth":
            return self._cached("truth", meas, lambda: None if c.truth is None else c.ground_truth([meas])[0])
        if source == "Measurement":
            return self._cached("meas", meas, lambda: c.measurements([meas]))
        if source == "Mask":
            return None if c.mask is None else self._cached("mask", 0, c.mask_float)
        if source == RESIDUAL_SOURCE:
            return self.residual_map(meas)
        return None

    def residual_map(self, meas: int) -> np.ndarray | None:
        """``|y - A x|`` (H, W) of the current run's estimate of measurement ``meas``, on the frames'
        [0, 1]-scale measurement (the run's own capture: its scale and mask); None without one."""
        record = self.runs.current
        x = None if record is None else record.estimates.get(meas)
        if x is None:
            return None
        if self._residual is not None and self._residual[0] is x:
            return self._residual[1]
        cap = record.capture
        y = cap.measurements([meas])[0]
        mask = cap.mask_float()
        diff = np.abs(y - np.einsum("bhw,bhw->hw", mask, x, optimize=False)).astype(np.float32)
        self._residual = (x, diff)
        return diff

    def compare(self, key: str, meas: int) -> np.ndarray | None:
        """``"truth"`` or ``"run:<id>"`` for measurement ``meas``."""
        if key == TRUTH_KEY:
            return self.video("Ground truth", meas)
        if key and key.startswith("run:"):
            record = self.runs.store.get(int(key[4:]))
            return None if record is None else record.estimates.get(meas)
        return None


def compare_sources(runs: RunController, has_truth: bool, pick_defaults: bool
                    ) -> tuple[list[tuple[str, str]], dict[int, str] | None]:
    """What the compare panes offer, ``(key, label)``: the runs with estimates (and the current one),
    then the ground truth if there is one; with ``pick_defaults``, which each pane shows: the last
    two runs, then the ground truth or their difference (None: keep the panes' picks)."""
    shown = [r for r in runs.store.runs() if r.estimates or r is runs.current]
    sources = [(f"run:{r.run_id}", r.label) for r in shown]
    if has_truth:
        sources.append((TRUTH_KEY, "Ground truth"))
    keys = [k for k, _ in sources if k != TRUTH_KEY]
    if not (keys and pick_defaults):
        return sources, None
    return sources, {0: keys[-2] if len(keys) > 1 else keys[-1],
                     1: keys[-1] if len(keys) > 1 else (TRUTH_KEY if has_truth else NONE_KEY),
                     2: TRUTH_KEY if has_truth and len(keys) > 1 else DIFF_KEY}
