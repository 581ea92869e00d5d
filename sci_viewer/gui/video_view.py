"""Frame-by-frame viewer: estimate (live), ground truth, raw measurement, mask, or the measurement
residual map |y - A x| of the estimate; frame slider, play/pause/fps/loop, fixed contrast levels
across frames, colormap, zoom/pan (the image fills the view until the user zooms; Fit restores
that), pixel readout and per-frame PSNR against ground truth."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from sci_viewer.gui.colormaps import NAMES, colormap
from sci_viewer.metrics import psnr_per_frame

RESIDUAL_SOURCE = "Measurement residual |y − Ax|"
SOURCES = ["Estimate", "Ground truth", "Measurement", "Mask", RESIDUAL_SOURCE]
Provider = Callable[[str, int], "np.ndarray | None"]


def frame_psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """PSNR (dB) of one frame on the [0, 1] scale: :func:`sci_viewer.metrics.psnr_per_frame`, as the
    engine and reports compute it (the estimate as it is, not clipped)."""
    return float(psnr_per_frame(estimate, truth)[0])


def sampled_percentile(volume: np.ndarray, q: float | list[float], max_samples: int = 1 << 18) -> np.ndarray:
    """``np.percentile`` of ``volume`` from an evenly strided sample of at most about ``max_samples``
    values: display levels need no exact percentile, and a full one of a 10x512x512 video takes
    ~75 ms, a visible stall on the GUI thread."""
    stride = max(1, int(np.ceil(np.sqrt(volume.size / max_samples))))
    sample = volume[..., ::stride, ::stride] if volume.ndim >= 2 else volume[::stride * stride]
    return np.percentile(sample, q)


def default_levels(source: str, volume: np.ndarray) -> tuple[float, float]:
    """Estimates and truth sit on [0, 1]; raw data from 0 to its maximum."""
    if source in ("Estimate", "Ground truth"):
        return 0.0, 1.0
    if source == RESIDUAL_SOURCE:  # a few hot pixels must not leave the rest black
        hi = float(sampled_percentile(volume, 99.5)) if volume.size else 1.0
        return 0.0, hi if hi > 0 else 1.0
    hi = float(np.max(volume)) if volume.size else 1.0
    return 0.0, hi if hi > 0 else 1.0


class VideoView(QWidget):
    """Shows one (B, H, W) volume at a time, pulled from ``provider(source, measurement)``.

    Call :meth:`refresh_data` when the provider's data changed (the main window does so at a
    bounded rate during a run).
    """

    sigFrameChanged = Signal(int)
    sigColormapChanged = Signal(str)
    sigFpsChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._provider: Provider = lambda source, meas: None
        self._volume: np.ndarray | None = None
        self._truth: np.ndarray | None = None
        self._levels: tuple[float, float] | None = None
        self._shown_source = ""
        self._shape: tuple[int, ...] | None = None

        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.view.setDefaultPadding(0.0)  # a fitted image fills the view
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.hist = pg.HistogramLUTItem(image=self.image)
        self.graphics.addItem(self.hist, row=0, col=1)
        self.hist.sigLevelsChanged.connect(self._levels_edited)

        self.source_combo = QComboBox()
        self.source_combo.addItems(SOURCES)
        self.meas_spin = QSpinBox()
        self.meas_spin.setPrefix("meas ")
        self.meas_spin.setRange(0, 0)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(NAMES)
        self.auto_button = QPushButton("Auto levels")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole frame (and follow resizes) again after zooming")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.frame_label = QLabel("frame 1/1")
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(0.5, 60)
        self.fps_spin.setValue(10)
        self.fps_spin.setSuffix(" fps")
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setChecked(True)
        self.pixel_label = QLabel(" ")
        self.pixel_label.setObjectName("pixelLabel")
        self.psnr_label = QLabel("")
        self.psnr_label.setObjectName("framePsnrLabel")

        top = QHBoxLayout()
        for w in (self.source_combo, self.meas_spin, QLabel("Colormap"), self.cmap_combo, self.auto_button,
                  self.fit_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.psnr_label)
        bottom = QHBoxLayout()
        for w in (self.play_button, self.slider, self.frame_label, self.fps_spin, self.loop_check):
            bottom.addWidget(w, 1 if w is self.slider else 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.pixel_label)

        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._advance)
        self.source_combo.currentIndexChanged.connect(lambda _: self.refresh_data(reset_levels=True))
        self.meas_spin.valueChanged.connect(lambda _: self.refresh_data())
        self.cmap_combo.currentTextChanged.connect(self.set_colormap)
        self.auto_button.clicked.connect(self.auto_levels)
        self.fit_button.clicked.connect(self.fit)
        self.slider.valueChanged.connect(self._show_frame)
        self.play_button.toggled.connect(self._toggle_play)
        self.fps_spin.valueChanged.connect(self._fps_changed)
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)
        self.set_colormap("gray")

    # -- data --------------------------------------------------------------------------------
    def set_provider(self, provider: Provider, n_measurements: int) -> None:
        self._provider = provider
        self.meas_spin.setRange(0, max(0, n_measurements - 1))
        self.refresh_data(reset_levels=True)

    def source(self) -> str:
        return self.source_combo.currentText()

    def set_source(self, source: str) -> None:
        self.source_combo.setCurrentText(source)

    def measurement(self) -> int:
        return self.meas_spin.value()

    def set_measurement(self, index: int) -> None:
        self.meas_spin.setValue(index)

    def volume(self) -> np.ndarray | None:
        return self._volume

    def frame(self) -> int:
        return self.slider.value()

    def set_frame(self, index: int) -> None:
        self.slider.setValue(index)

    def refresh_data(self, reset_levels: bool = False) -> None:
        """Pull the current volume for the chosen source and measurement and redraw."""
        source, meas = self.source(), self.measurement()
        volume = self._provider(source, meas)
        self._truth = self._provider("Ground truth", meas) if source == "Estimate" else None
        if volume is not None and volume.ndim == 2:
            volume = volume[None]
        if volume is not None and volume is self._volume and not reset_levels and source == self._shown_source:
            return  # nothing new to draw
        self._volume = volume
        if volume is None:
            self.image.clear()
            self.hist.plot.setData([], [])  # the histogram does not follow a cleared image by itself
            self.frame_label.setText("no data")
            self.psnr_label.setText("")
            return
        if reset_levels or self._levels is None or source != self._shown_source:
            self._levels = default_levels(source, volume)
        self._shown_source = source
        n = volume.shape[0]
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.blockSignals(False)
        self._show_frame(min(self.slider.value(), n - 1))

    def _show_frame(self, index: int) -> None:
        if self._volume is None:
            return
        n = self._volume.shape[0]
        index = max(0, min(index, n - 1))
        frame = self._volume[index]
        self.image.setImage(frame, autoLevels=False, levels=self._levels)
        if frame.shape != self._shape:
            self._shape = frame.shape
            self.view.enableAutoRange()
        self.hist.blockSignals(True)
        self.hist.setLevels(*self._levels)
        self.hist.blockSignals(False)
        self.frame_label.setText(f"frame {index + 1}/{n}")
        if self._truth is not None and self._truth.shape == self._volume.shape:
            self.psnr_label.setText(f"frame PSNR {frame_psnr(frame, self._truth[index]):.2f} dB")
        else:
            self.psnr_label.setText("")
        self.sigFrameChanged.emit(index)

    # -- zoom ----------------------------------------------------------------------------------
    def fit(self) -> None:
        """Show the whole frame, and follow resizes of the view, until the user zooms."""
        self.view.enableAutoRange()

    def is_fitted(self) -> bool:
        """True while the view follows the frame (no zoom since the last fit)."""
        x, y = self.view.autoRangeEnabled()
        return bool(x) and bool(y)

    # -- levels and colours ------------------------------------------------------------------
    def levels(self) -> tuple[float, float] | None:
        return self._levels

    def set_levels(self, lo: float, hi: float) -> None:
        self._levels = (float(lo), float(hi))
        self._show_frame(self.frame())

    def auto_levels(self) -> None:
        if self._volume is not None:
            lo, hi = sampled_percentile(self._volume, [0.5, 99.5])
            self.set_levels(float(lo), float(hi) if hi > lo else float(lo) + 1e-6)

    def _levels_edited(self) -> None:
        self._levels = tuple(float(v) for v in self.hist.getLevels())

    def set_colormap(self, name: str) -> None:
        if self.cmap_combo.currentText() != name:
            self.cmap_combo.setCurrentText(name)
            return
        self.hist.gradient.setColorMap(colormap(name))
        self.sigColormapChanged.emit(name)

    # -- playback ----------------------------------------------------------------------------
    def fps(self) -> float:
        return self.fps_spin.value()

    def set_fps(self, fps: float) -> None:
        self.fps_spin.setValue(fps)

    def _fps_changed(self, fps: float) -> None:
        self._play_timer.setInterval(int(1000 / max(fps, 0.1)))
        self.sigFpsChanged.emit(fps)

    def _toggle_play(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on:
            self._play_timer.start(int(1000 / max(self.fps(), 0.1)))
        else:
            self._play_timer.stop()

    def _advance(self) -> None:
        n = self.slider.maximum() + 1
        nxt = self.slider.value() + 1
        if nxt >= n:
            if not self.loop_check.isChecked():
                self.play_button.setChecked(False)
                return
            nxt = 0
        self.slider.setValue(nxt)

    # -- readout -----------------------------------------------------------------------------
    def _mouse_moved(self, pos) -> None:
        if self._volume is None or not self.view.sceneBoundingRect().contains(pos):
            return
        p = self.image.mapFromScene(pos)
        x, y = int(np.floor(p.x())), int(np.floor(p.y()))
        frame = self._volume[self.frame()]
        if 0 <= y < frame.shape[0] and 0 <= x < frame.shape[1]:
            self.pixel_label.setText(f"x {x}  y {y}  value {float(frame[y, x]):.4g}")
        else:
            self.pixel_label.setText(" ")
