"""pyqtgraph's global options, set once before any view is made (row-major images, no antialiasing)."""

from __future__ import annotations

import pyqtgraph as pg

_configured = False


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options, once: row-major images (numpy's H x W), no antialiasing (cheaper redraws)."""
    global _configured
    if not _configured:
        pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
        _configured = True
