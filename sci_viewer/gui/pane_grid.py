"""Where the compare panes go: the grid (rows x columns) that shows their images largest.

Pure arithmetic (no Qt) so that it is tested on its own: three 256 x 256 panes in a 700 x 700 area
fit in 2 x 2 cells of 350 px, not in a row of 233 px columns; in a wide area they stay in a row.
"""

from __future__ import annotations

import math


def image_scale(n: int, rows: int, width: float, height: float, image_w: float, image_h: float,
                title_h: float = 0.0) -> float:
    """Screen pixels per image pixel when ``n`` panes fill ``rows`` rows of ``width`` x ``height``."""
    cols = math.ceil(n / rows)
    cell_w, cell_h = width / cols, height / rows - title_h
    if cell_w <= 0 or cell_h <= 0 or image_w <= 0 or image_h <= 0:
        return 0.0
    return min(cell_w / image_w, cell_h / image_h)


def best_grid(n: int, width: float, height: float, image_w: float = 1.0, image_h: float = 1.0,
              title_h: float = 0.0) -> tuple[int, int]:
    """``(rows, cols)`` for ``n`` panes of ``image_w x image_h`` images in ``width x height`` pixels,
    each pane with a title ``title_h`` high: the one with the largest image (fewest rows on a tie)."""
    n = max(1, int(n))
    best = (1, n)
    best_scale = -1.0
    for rows in range(1, n + 1):
        cols = math.ceil(n / rows)
        if (rows - 1) * cols >= n:  # a row would stay empty
            continue
        scale = image_scale(n, rows, width, height, image_w, image_h, title_h)
        if scale > best_scale * 1.02:  # 2 %: not worth re-arranging for less
            best, best_scale = (rows, cols), scale
    return best
