"""The colormaps offered in the viewers (pyqtgraph ColorMap objects by name)."""

from __future__ import annotations

import pyqtgraph as pg

NAMES = ["gray", "viridis", "inferno", "magma", "plasma", "cividis"]
DIVERGING = "diverging"


def colormap(name: str) -> pg.ColorMap:
    """``name`` from :data:`NAMES` (or ``"diverging"`` for difference maps); unknown → gray."""
    if name == DIVERGING:
        return pg.ColorMap([0.0, 0.5, 1.0], [(40, 80, 200), (245, 245, 245), (200, 40, 40)])
    if name != "gray":
        try:
            return pg.colormap.get(name)
        except Exception:  # noqa: BLE001 - a missing bundled map falls back to gray
            pass
    return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
