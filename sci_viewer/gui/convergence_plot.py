"""Live convergence plot: the fixed-point residual and the measurement residual ||y - A x|| / ||y||
(log scales; the latter needs no ground truth), PSNR and SSIM against iteration K, one labelled
curve set per run (earlier runs stay for comparison). Redrawn at a bounded rate."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sci_viewer.engine import IterationEvent

REDRAW_MS = 200
_METRICS = ("residual", "data_residual", "psnr", "ssim")
_LOG = ("residual", "data_residual")


@dataclass
class _Series:
    """One measurement of one run: iteration numbers and metrics (NaN where not computed)."""

    k: list[int] = field(default_factory=list)
    residual: list[float] = field(default_factory=list)
    data_residual: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    items: dict[str, pg.PlotDataItem] = field(default_factory=dict)


@dataclass
class _Run:
    label: str
    color: object
    series: dict[int, _Series] = field(default_factory=dict)  # by measurement index


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


class ConvergencePlot(QWidget):
    """Residual / measurement residual / PSNR / SSIM vs K for every run; hover shows the values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        titles = {"residual": "Residual ‖f(x)−x‖/‖f(x)‖", "data_residual": "Meas. residual ‖y−Ax‖/‖y‖",
                  "psnr": "PSNR (dB)", "ssim": "SSIM"}
        for row, name in enumerate(_METRICS):
            plot = self.graphics.addPlot(row=row, col=0)
            plot.setLabel("left", titles[name])
            # No grid: on these plots it tripled the cost of a redraw (values: hover, CSV).
            plot.setMenuEnabled(False)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if row:
                plot.setXLink(self.plots["residual"])
            self.plots[name] = plot
        for name in _LOG:
            self.plots[name].setLogMode(y=True)
        self.plots["ssim"].setLabel("bottom", "iteration K")
        for name in ("residual", "data_residual", "psnr"):  # the x axis is shared: ticks on the bottom plot only
            self.plots[name].getAxis("bottom").setStyle(showValues=False)
            self.plots[name].getAxis("bottom").setHeight(6)
        self.legend = self.plots["residual"].addLegend(offset=(-10, 10), labelTextSize="9pt",
                                                   labelTextColor=(30, 30, 30), brush=(255, 255, 255, 200))
        self.hover_label = QLabel("hover over a curve for values")
        self.hover_label.setObjectName("hoverLabel")
        png = QPushButton("Export PNG…")
        csv_button = QPushButton("Export CSV…")
        self.png_button, self.csv_button = png, csv_button
        bar = QHBoxLayout()
        bar.addWidget(self.hover_label, 1)
        bar.addWidget(png)
        bar.addWidget(csv_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(bar)
        self._runs: dict[int, _Run] = {}
        self._dirty: set[tuple[int, int]] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.graphics.scene().sigMouseMoved.connect(self._hover)
        self.redraw_count = 0

    def show_quality(self, visible: bool) -> None:
        """Show or hide the PSNR and SSIM plots (hidden for captures without ground truth)."""
        for name in ("psnr", "ssim"):
            self.plots[name].setVisible(visible)
        bottom = "ssim" if visible else "data_residual"
        for name, plot in self.plots.items():
            axis = plot.getAxis("bottom")
            axis.setStyle(showValues=name == bottom)
            axis.setHeight(None if name == bottom else 6)
            if name == bottom:
                plot.setLabel("bottom", "iteration K")
            else:
                axis.showLabel(False)

    # -- data --------------------------------------------------------------------------------
    def add_run(self, run_id: int, label: str) -> None:
        if run_id not in self._runs:
            self._runs[run_id] = _Run(label, pg.intColor(len(self._runs), hues=8, values=1, maxValue=200))

    def rename_run(self, run_id: int, label: str) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        run.label = label
        for s in run.series.values():
            for item in s.items.values():
                if item.name():
                    item.opts["name"] = label
        self._rebuild_legend()

    def remove_run(self, run_id: int) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        for s in run.series.values():
            for name, item in s.items.items():
                self.plots[name].removeItem(item)
        self._rebuild_legend()

    def clear(self) -> None:
        for run_id in list(self._runs):
            self.remove_run(run_id)

    def run_ids(self) -> list[int]:
        return list(self._runs)

    def add_point(self, run_id: int, event: IterationEvent) -> None:
        """Record one iteration (cheap); the curves are redrawn by the timer."""
        run = self._runs.get(run_id)
        if run is None:
            return
        s = run.series.setdefault(event.measurement, _Series())
        s.k.append(event.k)
        s.residual.append(_nan(event.residual))
        s.data_residual.append(_nan(getattr(event, "data_residual", None)))
        s.psnr.append(_nan(event.psnr))
        s.ssim.append(_nan(event.ssim))
        self._dirty.add((run_id, event.measurement))

    def point_count(self, run_id: int, measurement: int | None = None) -> int:
        run = self._runs.get(run_id)
        if run is None:
            return 0
        series = run.series.values() if measurement is None else [run.series.get(measurement, _Series())]
        return sum(len(s.k) for s in series)

    def curve_data(self, run_id: int, measurement: int, metric: str = "residual") -> tuple[np.ndarray, np.ndarray]:
        """What the plot currently draws for one curve (x, y); empty before the first redraw."""
        s = self._runs[run_id].series[measurement]
        item = s.items.get(metric)
        if item is None or item.xData is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(item.xData), np.asarray(item.yData)

    # -- drawing -----------------------------------------------------------------------------
    def refresh(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        for run_id, meas in dirty:
            run = self._runs.get(run_id)
            if run is None:
                continue
            s = run.series[meas]
            first = min(run.series) == meas
            styles = [pg.mkPen(run.color, width=2), pg.mkPen(run.color, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)]
            for metric in _METRICS:
                y = np.asarray(getattr(s, metric), dtype=float)
                x = np.asarray(s.k, dtype=float)
                keep = np.isfinite(y)
                if metric in _LOG:
                    keep &= y > 0
                if not keep.any():
                    continue
                item = s.items.get(metric)
                if item is None:
                    name = (run.label if first else f"{run.label} (meas {meas})") if metric == "residual" else None
                    item = self.plots[metric].plot(pen=styles[0 if first else 1], name=name,
                                                   symbol="o" if keep.sum() < 30 else None, symbolSize=4,
                                                   symbolBrush=run.color, symbolPen=None)
                    s.items[metric] = item
                elif item.opts.get("symbol") and keep.sum() >= 30:
                    item.setSymbol(None)
                item.setData(x[keep], y[keep])
        self.redraw_count += 1

    def _rebuild_legend(self) -> None:
        self.legend.clear()
        for run in self._runs.values():
            for s in run.series.values():
                item = s.items.get("residual")
                if item is not None and item.name():
                    self.legend.addItem(item, item.name())

    def _hover(self, pos) -> None:
        for metric, plot in self.plots.items():
            if not plot.sceneBoundingRect().contains(pos):
                continue
            mouse = plot.vb.mapSceneToView(pos)
            best = None
            for run in self._runs.values():
                for meas, s in run.series.items():
                    if not s.k:
                        continue
                    i = int(np.argmin(np.abs(np.asarray(s.k) - mouse.x())))
                    v = getattr(s, metric)[i]
                    if math.isnan(v):
                        continue
                    y = math.log10(v) if metric in _LOG and v > 0 else v
                    d = abs(y - mouse.y())
                    if best is None or d < best[0]:
                        best = (d, run.label, meas, s.k[i], s.residual[i], s.data_residual[i], s.psnr[i], s.ssim[i])
            if best is not None:
                _, label, meas, k, r, dr, p, q = best
                text = f"{label} meas {meas}  K={k}  residual {r:.3e}"
                if not math.isnan(dr):
                    text += f"  meas. residual {dr:.3e}"
                if not math.isnan(p):
                    text += f"  PSNR {p:.2f} dB"
                if not math.isnan(q):
                    text += f"  SSIM {q:.4f}"
                self.hover_label.setText(text)
            return

    # -- export ------------------------------------------------------------------------------
    def export_png(self, path: str | os.PathLike) -> Path:
        """Save the plots as a PNG image."""
        self.refresh()
        target = Path(path)
        image = self.graphics.grab()
        if not image.save(str(target), "PNG"):
            from sci_viewer.errors import ExportError

            raise ExportError(f"Could not write the plot image {target}.")
        return target

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Save every run's points as CSV: run, measurement, k, residual, data_residual, psnr, ssim."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=target.parent)
        try:
            with os.fdopen(fd, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["run", "measurement", "k", "residual", "data_residual", "psnr", "ssim"])
                for run in self._runs.values():
                    for meas, s in run.series.items():
                        for row in zip(s.k, s.residual, s.data_residual, s.psnr, s.ssim):
                            w.writerow([run.label, meas, row[0]] + ["" if math.isnan(v) else f"{v:.8g}" for v in row[1:]])
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
