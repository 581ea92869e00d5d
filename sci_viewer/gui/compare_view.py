"""Side-by-side comparison: two or three synchronised views (frame, zoom/pan and levels linked).

Each pane shows any source the main window offers (finished runs, the live run, ground truth);
the third pane can show the difference map of the first two. The panes sit in the grid that shows
their images largest (a row when the view is wide, 2 x 2 when it is narrow: :mod:`pane_grid`), and
each image fills its pane (also after a resize) until the user zooms.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox,
                               QVBoxLayout, QWidget)

from sci_viewer.gui.colormaps import DIVERGING, colormap
from sci_viewer.gui.pane_grid import best_grid
from sci_viewer.gui.video_view import frame_psnr, sampled_percentile

NONE_KEY = "none"
DIFF_KEY = "diff"
Provider = Callable[[str, int], "np.ndarray | None"]


TITLE_H = 22  # pixels of a pane's title row


class _Pane:
    """One pane: its own graphics widget with a title and an image view."""

    def __init__(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(1, 1, 1, 1)
        self.title = self.graphics.addLabel("", row=0, col=0, size="10pt")
        self.title.setMaximumHeight(TITLE_H)
        self.view = self.graphics.addViewBox(row=1, col=0, lockAspect=True, invertY=True)
        self.view.setDefaultPadding(0.0)  # a fitted image fills its pane
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.combo = QComboBox()
        self.volume: np.ndarray | None = None
        self.shape: tuple[int, ...] | None = None


class CompareView(QWidget):
    """Up to three panes; pane 3 may be the difference A − B."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._provider: Provider = lambda key, meas: None
        self._truth_key: str | None = None
        self.panes = [_Pane() for _ in range(3)]
        self._syncing = False
        for p in self.panes:
            p.view.sigRangeChangedManually.connect(lambda *_, v=p.view: self._view_moved(v))
        self.hist_graphics = pg.GraphicsLayoutWidget()
        self.hist = pg.HistogramLUTItem(image=self.panes[0].image)
        self.hist_graphics.addItem(self.hist, row=0, col=0)
        self.hist_graphics.setFixedWidth(110)
        self.pane_area = QWidget()
        self._grid = QGridLayout(self.pane_area)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self._arrangement: tuple[int, int] | None = None
        self.pane_area.installEventFilter(self)
        self._arrange(1, 3)
        self.hist.sigLevelsChanged.connect(self._sync_levels)
        self.hist.sigLookupTableChanged.connect(self._sync_levels)
        self._levels = (0.0, 1.0)
        self._diff_span = 1.0

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.frame_label = QLabel("frame 1/1")
        self.meas_spin = QSpinBox()
        self.meas_spin.setPrefix("meas ")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole frame in every view (after zooming)")
        self.fit_button.clicked.connect(self.fit)
        combos = QHBoxLayout()
        for i, p in enumerate(self.panes):
            combos.addWidget(QLabel("ABC"[i]))
            combos.addWidget(p.combo, 1)
            p.combo.currentIndexChanged.connect(lambda _=0: self.refresh_data())
        combos.addWidget(self.meas_spin)
        combos.addWidget(self.fit_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(combos)
        middle = QHBoxLayout()
        middle.setSpacing(2)
        middle.addWidget(self.pane_area, 1)
        middle.addWidget(self.hist_graphics)
        layout.addLayout(middle, 1)
        layout.addLayout(bottom)
        self.slider.valueChanged.connect(self._show_frame)
        self.meas_spin.valueChanged.connect(lambda _: self.refresh_data())
        self.hist.gradient.setColorMap(colormap("gray"))

    # -- pane layout -------------------------------------------------------------------------
    def arrangement(self) -> tuple[int, int]:
        """The panes' grid now: (rows, columns)."""
        return self._arrangement or (1, 3)

    def _arrange(self, rows: int, cols: int) -> None:
        if self._arrangement == (rows, cols):
            return
        self._arrangement = (rows, cols)
        for p in self.panes:
            self._grid.removeWidget(p.graphics)
        for i, p in enumerate(self.panes):
            self._grid.addWidget(p.graphics, i // cols, i % cols)
        for r in range(3):
            self._grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(3):
            self._grid.setColumnStretch(c, 1 if c < cols else 0)

    def _relayout(self) -> None:
        """Re-grid the panes for the area's size and the images' shape (a row, a column or 2 x 2)."""
        shape = next((p.shape for p in self.panes if p.shape is not None), None)
        h, w = shape[-2:] if shape is not None else (1, 1)
        size = self.pane_area.size()
        self._arrange(*best_grid(len(self.panes), size.width(), size.height(), w, h, TITLE_H))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.pane_area and event.type() == QEvent.Type.Resize:
            self._relayout()
        return super().eventFilter(watched, event)

    # -- sources -----------------------------------------------------------------------------
    def set_provider(self, provider: Provider, n_measurements: int) -> None:
        self._provider = provider
        self.meas_spin.setRange(0, max(0, n_measurements - 1))

    def set_sources(self, sources: list[tuple[str, str]], truth_key: str | None = None,
                    picks: dict[int, str] | None = None) -> None:
        """Offer ``(key, label)`` sources in every pane, showing ``picks`` (pane -> key) or else keeping
        the current picks where possible; one redraw for all of it."""
        self._truth_key = truth_key
        for i, p in enumerate(self.panes):
            current = (picks or {}).get(i, p.combo.currentData())
            p.combo.blockSignals(True)
            p.combo.clear()
            p.combo.addItem("(none)", NONE_KEY)
            for key, label in sources:
                p.combo.addItem(label, key)
            if i == 2:
                p.combo.addItem("Difference A − B", DIFF_KEY)
            idx = p.combo.findData(current)
            p.combo.setCurrentIndex(idx if idx >= 0 else 0)
            p.combo.blockSignals(False)
        self.refresh_data()

    def set_pane(self, pane: int, key: str) -> bool:
        idx = self.panes[pane].combo.findData(key)
        if idx >= 0:
            self.panes[pane].combo.setCurrentIndex(idx)
        return idx >= 0

    def pane_key(self, pane: int) -> str:
        return str(self.panes[pane].combo.currentData())

    def pane_volume(self, pane: int) -> np.ndarray | None:
        return self.panes[pane].volume

    def set_colormap(self, name: str) -> None:
        self.hist.gradient.setColorMap(colormap(name))

    # -- drawing -----------------------------------------------------------------------------
    def refresh_data(self) -> None:
        meas = self.meas_spin.value()
        for p in self.panes[:2]:
            key = p.combo.currentData()
            p.volume = None if key in (None, NONE_KEY) else self._provider(key, meas)
        c = self.panes[2]
        key = c.combo.currentData()
        a, b = self.panes[0].volume, self.panes[1].volume
        if key == DIFF_KEY:
            c.volume = (a.astype(np.float32) - b) if a is not None and b is not None and a.shape == b.shape else None
            # Symmetric levels for the whole difference video, fixed across its frames.
            if c.volume is not None:
                self._diff_span = float(sampled_percentile(np.abs(c.volume), 99.5)) or 1e-6
        else:
            c.volume = None if key in (None, NONE_KEY) else self._provider(key, meas)
        n = max([p.volume.shape[0] for p in self.panes if p.volume is not None] or [1])
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.blockSignals(False)
        self._show_frame(min(self.slider.value(), n - 1))

    def _show_frame(self, index: int) -> None:
        truth = self._provider(self._truth_key, self.meas_spin.value()) if self._truth_key else None
        n = self.slider.maximum() + 1
        self.frame_label.setText(f"frame {index + 1}/{n}")
        fit = False
        for i, p in enumerate(self.panes):
            label = p.combo.currentText() if p.combo.currentData() not in (None, NONE_KEY) else ""
            if p.volume is None or index >= p.volume.shape[0]:
                p.image.clear()
                if label:  # chosen, but nothing to show for this measurement
                    label += (f"  (needs two panes of measurement {self.meas_spin.value()})" if i == 2 and
                              p.combo.currentData() == DIFF_KEY else
                              f"  (not reconstructed for measurement {self.meas_spin.value()})")
                p.title.setText(label)
                continue
            frame = p.volume[index]
            if frame.shape != p.shape:
                p.shape = frame.shape
                fit = True
            if i == 2 and p.combo.currentData() == DIFF_KEY:
                span = self._diff_span
                p.image.setImage(frame, autoLevels=False, levels=(-span, span))
                p.image.setLookupTable(colormap(DIVERGING).getLookupTable(nPts=256))
                label += f" (±{span:.3g})"
            else:
                p.image.setImage(frame, autoLevels=False, levels=self._levels)
                if i:
                    p.image.setLookupTable(self.hist.gradient.getLookupTable(256))
                if truth is not None and p.combo.currentData() != self._truth_key and frame.shape == truth[index].shape:
                    label += f"  ({frame_psnr(frame, truth[index]):.2f} dB)"
            p.title.setText(label)
        if fit:
            self._relayout()
            self.fit()

    # -- linked zoom / pan -------------------------------------------------------------------
    def fit(self) -> None:
        """Every view shows its whole frame again (and follows resizes) until the next zoom."""
        for p in self.panes:
            p.view.enableAutoRange()

    def is_fitted(self) -> bool:
        """True while the views follow their frames (no zoom since the last fit)."""
        return all(p.view.autoRangeEnabled()[0] and p.view.autoRangeEnabled()[1] for p in self.panes)

    def set_view_range(self, x: tuple[float, float], y: tuple[float, float]) -> None:
        """Zoom/pan every view to the same region (image pixel coordinates)."""
        self._syncing = True
        try:
            for p in self.panes:
                p.view.setRange(xRange=x, yRange=y, padding=0)
        finally:
            self._syncing = False

    def _view_moved(self, view: pg.ViewBox) -> None:
        if not self._syncing:
            (x0, x1), (y0, y1) = view.viewRange()
            self.set_view_range((x0, x1), (y0, y1))

    def _sync_levels(self) -> None:
        self._levels = tuple(float(v) for v in self.hist.getLevels())
        lut = self.hist.gradient.getLookupTable(256)
        for i, p in enumerate(self.panes[1:], start=1):
            if i == 2 and p.combo.currentData() == DIFF_KEY:
                continue
            p.image.setLevels(self._levels)
            p.image.setLookupTable(lut)
