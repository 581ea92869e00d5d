"""The app as an operator meets it (issue 18): images that fill their panes, refusals as messages,
the measurement residual (curve and map) for captures without ground truth, the time left."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from sci_viewer.gui.pane_grid import best_grid  # noqa: E402
from sci_viewer.gui.testing import RUN_TIMEOUT_MS, run_and_wait  # noqa: E402
from sci_viewer.gui.video_view import RESIDUAL_SOURCE  # noqa: E402

pytestmark = pytest.mark.gui


def fill(view, image) -> float:
    """How much of the view the image spans along its tighter side (1.0: fitted)."""
    r = view.viewRect()
    return max(image.width() / r.width(), image.height() / r.height())


def pixels_per_image_pixel(view) -> float:
    return view.boundingRect().width() / view.viewRect().width()


def _settle(qtbot, ms: int = 200) -> None:
    qtbot.wait(ms)


# -- images fill their panes -----------------------------------------------------------------------
def test_video_fits_the_pane_on_resize_and_keeps_a_zoom(qtbot, window, small_demo):
    window.resize(1600, 1000)
    window.set_capture(small_demo)
    v = window.video
    qtbot.waitUntil(lambda: abs(fill(v.view, v.image) - 1) < 0.01, timeout=5000)
    before = pixels_per_image_pixel(v.view)
    window.resize(1200, 800)
    qtbot.waitUntil(lambda: pixels_per_image_pixel(v.view) < 0.95 * before, timeout=5000)
    assert abs(fill(v.view, v.image) - 1) < 0.01  # still fills the smaller pane
    v.view.scaleBy((0.5, 0.5))  # what a mouse-wheel zoom does
    zoomed = v.view.viewRange()
    assert not v.is_fitted()
    window.resize(1500, 950)
    _settle(qtbot)
    assert not v.is_fitted() and fill(v.view, v.image) > 1.5  # the user's zoom is kept, not refitted
    (x0, x1), (y0, y1) = v.view.viewRange()
    assert (x0 + x1) / 2 == pytest.approx(np.mean(zoomed[0])) and (y0 + y1) / 2 == pytest.approx(np.mean(zoomed[1]))
    v.fit_button.click()
    qtbot.waitUntil(lambda: abs(fill(v.view, v.image) - 1) < 0.01, timeout=5000)


def test_compare_panes_fill_and_fold_the_plot_at_1600(qtbot, window, small_demo):
    window.resize(1600, 1000)
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    run_and_wait(qtbot, window)
    window.tabs.setCurrentWidget(window.compare)
    panes = window.compare.panes
    qtbot.waitUntil(lambda: all(p.volume is not None for p in panes), timeout=5000)
    qtbot.waitUntil(lambda: all(abs(fill(p.view, p.image) - 1) < 0.01 for p in panes), timeout=5000)
    assert window.compare.arrangement() == (2, 2)  # the plot dock leaves a square-ish area: 2 x 2 is larger
    with_plot = min(pixels_per_image_pixel(p.view) * 64 for p in panes)
    dock = window._docks["convergence"]
    assert dock.isVisible()
    window.plot_toggle.click()  # one click folds the convergence dock away
    assert not dock.isVisible()
    # its width goes to the panes (here 2 x 2 cells of ~342 px become a row of ~378 px columns)
    qtbot.waitUntil(lambda: min(pixels_per_image_pixel(p.view) * 64 for p in panes) > 1.05 * with_plot, timeout=5000)
    assert window.compare.arrangement() == (1, 3)
    assert all(abs(fill(p.view, p.image) - 1) < 0.01 for p in panes)
    shown = min(pixels_per_image_pixel(p.view) * 64 for p in panes)
    assert shown > 300  # three panes usable at 1600 px: each image over 300 px across
    window.plot_toggle.click()
    assert dock.isVisible()


def test_narrow_compare_view_stacks_its_panes():
    assert best_grid(3, 1200, 400, 256, 256, 22) == (1, 3)  # wide: a row
    assert best_grid(3, 700, 700, 256, 256, 22) == (2, 2)  # square: 2 x 2
    assert best_grid(3, 300, 1000, 256, 256, 22) == (3, 1)  # tall: a column


# -- refusals are messages ---------------------------------------------------------------------------
def test_an_expected_refusal_shows_only_its_message_in_the_panel(qtbot, window_and_dialogs, tmp_path):
    window, dialogs = window_and_dialogs
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 3)
    window.open_capture(bad)
    qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=RUN_TIMEOUT_MS)
    panel = window.log.toPlainText()
    assert "broken.mat" in panel and "ERROR" in panel
    assert "Traceback" not in panel and 'File "' not in panel
    logged = window.log._file.read_text()
    assert "Traceback" in logged and "Error" in logged  # the traceback is in the log file


def test_an_unexpected_exception_keeps_its_traceback_in_the_panel(qtbot, window_and_dialogs, small_demo):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)
    from sci_viewer.engine import run_job

    def faulty(job, cancel):
        for n, event in enumerate(run_job(job, cancel)):
            if n == 1:
                raise RuntimeError("simulated crash")
            yield event

    window.runs.runner = faulty
    window.run_panel.form.set_values({"iterations": 5})
    run_and_wait(qtbot, window)
    panel = window.log.toPlainText()
    assert "simulated crash" in panel and "Traceback" in panel


# -- the measurement residual ------------------------------------------------------------------------
def test_measurement_residual_curve_and_map_without_ground_truth(qtbot, window, real_like):
    capture = replace(real_like, truth=None)
    window.set_capture(capture)
    assert not window.plot.plots["psnr"].isVisible() and window.plot.plots["data_residual"].isVisible()
    window.run_panel.form.set_values({"iterations": 6})
    record = run_and_wait(qtbot, window)
    window.plot.refresh()
    k, dr = window.plot.curve_data(record.run_id, 0, "data_residual")
    assert list(k) == [1, 2, 3, 4, 5, 6] and np.all(dr > 0)
    assert dr[-1] == pytest.approx(record.results[0].final_data_residual, rel=1e-6)
    window.video.set_source(RESIDUAL_SOURCE)
    qtbot.waitUntil(lambda: window.video.volume() is not None and window.video.volume().shape == (1, 128, 128))
    x = record.estimates[0]
    y = capture.measurements([0])[0]
    expected = np.abs(y - (capture.mask_float() * x).sum(0))
    assert np.allclose(window.video.volume()[0], expected, atol=1e-5)
    # its norm is what the curve shows
    assert np.linalg.norm(expected) / np.linalg.norm(y) == pytest.approx(dr[-1], rel=1e-4)


# -- the time left -----------------------------------------------------------------------------------
def test_status_bar_shows_the_time_left_per_measurement_and_for_the_run(qtbot, window, small_demo):
    from sci_viewer.engine import IterationEvent, MeasurementResult, run_job

    def paced(job, cancel):  # 0.5 s of solver time an iteration, whatever this machine does
        for event in run_job(job, cancel):
            if isinstance(event, IterationEvent):
                event = replace(event, seconds=0.5 * event.k)
            elif isinstance(event, MeasurementResult):
                event = replace(event, seconds=0.5 * event.iterations)
            yield event

    seen: list[tuple[int, int, str]] = []
    window.runs.sigIteration.connect(lambda record, e: seen.append((e.position, e.k, window.status_line.time_text())))
    window.set_capture(small_demo)
    window.run_panel.set_measurements([0, 1])  # two measurements
    window.runs.runner = paced
    window.run_panel.form.set_values({"iterations": 40})
    run_and_wait(qtbot, window)
    texts = {(pos, k): text for pos, k, text in seen}
    assert texts[(0, 10)] == "~15 s left (meas), ~35 s (run)"  # 30 its x 0.5 s, then 40 x 0.5 s
    assert texts[(1, 30)] == "~5 s left (meas)"
    assert window.status_line.time_text() == ""  # nothing left once the run ended
