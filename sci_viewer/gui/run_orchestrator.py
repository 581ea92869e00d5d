"""Run orchestration for the window: Run / Stop / Continue / Clear, and keeping the run's widgets in
step with the worker's signals (run panel buttons, plot curves, views following the measurement
being reconstructed, status line with the estimated time left).

Everything here runs on the GUI thread and is cheap; the solving happens on the RunController's
worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject

from sci_viewer.capture import Capture
from sci_viewer.engine import IterationEvent, MeasurementResult
from sci_viewer.gui.compare_view import CompareView
from sci_viewer.gui.convergence_plot import ConvergencePlot
from sci_viewer.gui.log_panel import LogPanel
from sci_viewer.gui.run_controller import RunController, iteration_budget
from sci_viewer.gui.run_panel import RunPanel
from sci_viewer.gui.run_store import RunRecord
from sci_viewer.gui.settings_store import SettingsStore
from sci_viewer.gui.status_line import StatusLine
from sci_viewer.gui.video_view import RESIDUAL_SOURCE, VideoView
from sci_viewer.progress import TimeEstimate, TimeEstimator


@dataclass
class RunWidgets:
    """The widgets a run changes."""

    run_panel: RunPanel
    plot: ConvergencePlot
    video: VideoView
    compare: CompareView
    status: StatusLine
    log: LogPanel


class RunOrchestrator(QObject):
    """Starts, stops, continues and clears runs of ``runs`` for the window.

    ``capture()`` gives the window's capture; ``report_error(title, message, details, refusal)``
    tells the operator; ``sources_changed(default_panes)`` refreshes the compare sources;
    ``mark_dirty()`` asks for a bounded-rate redraw.
    """

    def __init__(self, parent: QObject, runs: RunController, widgets: RunWidgets, store: SettingsStore,
                 capture: Callable[[], Capture | None], report_error: Callable[[str, str, str, bool], None],
                 sources_changed: Callable[[bool], None], mark_dirty: Callable[[], None]) -> None:
        super().__init__(parent)
        self.runs, self.w, self.store = runs, widgets, store
        self._capture, self._report, self._sources, self._dirty = capture, report_error, sources_changed, mark_dirty
        self.status_text = ""
        self.estimator: TimeEstimator | None = None
        # The job's measurements under way, and iterations done by position: a batched solve
        # (sci_viewer.batching) sends the events of several measurements in turn.
        self._running: set[int] = set()
        self._done: dict[int, int] = {}
        runs.sigStarted.connect(self._started)
        runs.sigIteration.connect(self._iteration)
        runs.sigMeasurement.connect(self._measurement)
        runs.sigFinished.connect(self._finished)
        runs.sigIdle.connect(self._idle)

    # -- commands ----------------------------------------------------------------------------
    def start(self) -> RunRecord | None:
        """Start the run the run panel describes; None (and a message) if it cannot start."""
        capture = self._capture()
        if capture is None:
            self._report("Nothing to reconstruct", "Open a capture first.", "", True)
            return None
        opts = self.w.run_panel.job_options()
        if not opts["measurements"]:
            self._report("No measurement chosen", "Tick at least one measurement to reconstruct.", "", True)
            return None
        try:
            record = self.runs.start(capture, opts["algo"], opts["settings"], opts["device"], opts["measurements"])
        except Exception as exc:  # noqa: BLE001 - refused before starting: say why
            self._report("Cannot start the reconstruction", str(exc), "", True)
            return None
        self.store.set_algorithm_defaults(opts["algo"], opts["settings"])
        self.store.set_last_algorithm(opts["algo"])
        return record

    def stop(self) -> None:
        if self.runs.is_running():
            self.runs.stop()
            self.w.status.set_text("stopping …")

    def continue_run(self) -> RunRecord | None:
        """Iterate the current run further (with the run panel's settings if it is the same algorithm)."""
        record = self.runs.current
        if record is None or self.runs.is_running():
            return None
        panel = self.w.run_panel
        settings = panel.form.values() if panel.algorithm() == record.algo else None
        try:
            record = self.runs.continue_run(record, settings)
        except Exception as exc:  # noqa: BLE001
            self._report("Cannot continue", str(exc), "", True)
            return None
        capture = self._capture()
        if capture is not None and record.capture.scale != capture.scale:
            # its estimates are frames on its own scale: a run continues on the scale it began with
            self.w.log.warning(f"{record.label} continues on its own scale ({record.capture.scale.value}), "
                               f"not the one now chosen ({capture.scale.value}); start a new run for that.")
        return record

    def clear(self) -> None:
        """Stop a running job, forget every run and its curves."""
        if self.runs.is_running():
            self.runs.stop()
            self.runs.wait()
        self.w.plot.clear()
        self.runs.store.clear()
        self.runs.current = None
        self.status_text = ""
        self.w.status.set_text("runs cleared")
        self._sources(False)
        self.w.video.refresh_data()
        self.w.run_panel.set_running(False, False)

    def tick(self) -> None:
        """Called by the window's redraw timer: the running time in the status line."""
        if self.runs.is_running() and self.runs.elapsed.isValid():
            text = self.status_text or "running"
            self.w.status.set_text(f"{text}   {self.runs.elapsed.elapsed() / 1000:.1f} s")

    def estimate(self) -> TimeEstimate | None:
        """The time-left estimate of the running job (None when none runs)."""
        return self.estimator.estimate() if self.estimator is not None and self.runs.is_running() else None

    # -- the controller's signals ------------------------------------------------------------
    def _started(self, record: RunRecord) -> None:
        w = self.w
        w.plot.add_run(record.run_id, record.label)
        w.run_panel.set_running(True)
        if w.video.source() != RESIDUAL_SOURCE:
            w.video.set_source("Estimate")
        w.video.set_measurement(record.measurements[0])
        w.video.fit()
        w.compare.fit()
        self._sources(False)
        budget = iteration_budget(record.settings)
        self._running, self._done = set(), {}
        w.status.start_progress(budget * len(record.measurements) if budget else 0)
        self.estimator = TimeEstimator.for_settings(len(record.measurements), record.settings)
        w.status.set_estimate(self.estimator.estimate())
        verb = "continuing" if len(record.job_ids) > 1 else "running"
        w.log.info(f"{verb} {record.label} on measurement(s) {record.measurements}, device {record.device}, "
                   f"settings {record.settings}")

    def _iteration(self, record: RunRecord, event: IterationEvent) -> None:
        w = self.w
        w.plot.add_point(record.run_id, event)
        local = event.k - self.runs.k_offset(event.position)
        budget = iteration_budget(record.settings)
        self._running.add(event.measurement)
        if budget:
            self._done[event.position] = local
            w.status.set_progress(sum(self._done.values()))
        if self.estimator is not None:
            self.estimator.update(event.position, local, event.residual, event.seconds, event.tol)
            w.status.set_estimate(self.estimator.estimate())
        shown = w.video.measurement()
        # the views follow the measurement being reconstructed (in a batch: the one shown, while it runs)
        if event.estimate is not None and (shown == event.measurement or shown not in self._running):
            if shown != event.measurement:
                w.video.set_measurement(event.measurement)
            if w.compare.meas_spin.value() != event.measurement:
                w.compare.meas_spin.setValue(event.measurement)
        text = f"{record.label}: meas {event.measurement}  K={event.k}  residual {event.residual:.2e}"
        if event.data_residual is not None:
            text += f"  meas. residual {event.data_residual:.2e}"
        if event.psnr is not None:
            text += f"  PSNR {event.psnr:.2f} dB"
        self.status_text = text
        self._dirty()

    def _measurement(self, record: RunRecord, result: MeasurementResult) -> None:
        self._running.discard(result.index)
        position = record.measurements.index(result.index) if result.index in record.measurements else 0
        budget = iteration_budget(record.settings)
        if budget:
            self._done[position] = budget
        if self.estimator is not None:
            self.estimator.finish(result.iterations - self.runs.k_offset(position), result.seconds)
        self._dirty()

    def _finished(self, record: RunRecord) -> None:
        self.w.log.info(record.summary())
        self._sources(True)
        self._dirty()

    def _idle(self) -> None:
        record = self.runs.current
        self.w.run_panel.set_running(False, can_continue=bool(record and record.can_continue))
        self.w.status.end_progress()
        self.estimator = None
        secs = self.runs.elapsed.elapsed() / 1000
        if record is not None:
            state = "failed" if record.failed else "stopped" if record.cancelled else "finished"
            self.w.status.set_text(f"{record.label} {state} after {secs:.1f} s")
        self._dirty()
