"""End-to-end tests of the desktop application: the real window, offscreen (pytest-qt)."""

from __future__ import annotations


import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from sci_viewer.gui.testing import RUN_TIMEOUT_MS, load_and_wait, run_and_wait, start_then_stop  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def traffic(shared_data):
    path = shared_data / "benchmark" / "traffic48_cacti.mat"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


def test_load_traffic_and_run_gap_tv(qtbot, window, traffic):
    load_and_wait(qtbot, window, traffic)
    assert window.capture.n_meas == 6 and window.capture.n_frames == 8
    assert window.capture_panel.label_text("truth") == "yes"
    window.run_panel.set_algorithm("gap-tv")
    window.run_panel.form.set_values({"iterations": 3})
    record = run_and_wait(qtbot, window)
    assert record.finished and not record.cancelled and record.failed is None
    # One point per iteration, drawn (after the bounded-rate redraw).
    assert window.plot.point_count(record.run_id) == 3
    window.plot.refresh()
    x, y = window.plot.curve_data(record.run_id, 0, "residual")
    assert list(x) == [1, 2, 3] and np.all(y > 0)
    assert len(window.plot.curve_data(record.run_id, 0, "psnr")[0]) == 3
    # The viewer shows the estimate.
    qtbot.waitUntil(lambda: window.video.volume() is not None and window.video.volume().shape == (8, 256, 256))
    assert window.video.source() == "Estimate"
    assert np.array_equal(window.video.volume(), record.estimates[0])
    assert window.video.image.image is not None and window.video.image.image.shape == (256, 256)
    assert "dB" in window.video.psnr_label.text()
    assert "finished" in window.status_label.text()
    assert any("GAP-TV #1" in line and "PSNR" in line for line in window.log.lines())


def test_stop_long_run(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2000})
    record, stopped_after = start_then_stop(qtbot, window, 5)
    assert stopped_after < 1.5, f"stop took {stopped_after:.2f} s"
    assert record.cancelled and record.finished
    assert window.plot.point_count(record.run_id) < 2000
    assert window.run_panel.run_button.isEnabled() and not window.run_panel.stop_button.isEnabled()
    assert 0 in record.estimates  # the last good estimate is kept


def test_compare_two_runs_and_continue(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 3})
    first = run_and_wait(qtbot, window)
    window.run_panel.form.set_values({"iterations": 4, "tv_weight": 0.1})
    second = run_and_wait(qtbot, window)
    assert first.label != second.label
    window.tabs.setCurrentWidget(window.compare)
    keys = [window.compare.pane_key(i) for i in range(3)]
    assert keys == [f"run:{first.run_id}", f"run:{second.run_id}", "truth"]
    window.compare.set_pane(2, "diff")
    a, b, d = (window.compare.pane_volume(i) for i in range(3))
    assert a.shape == b.shape == d.shape == (8, 64, 64)
    assert np.allclose(d, a - b)
    window.compare.slider.setValue(5)
    assert window.compare.frame_label.text() == "frame 6/8"
    # Linked zoom/pan: moving view A moves view B.
    window.compare.set_view_range((10, 20), (10, 20))
    rb = window.compare.panes[1].view.viewRange()
    assert abs(rb[0][0] - 10) < 1 and abs(rb[0][1] - 20) < 1
    # Continue iterating the second run: iteration numbers continue from 4.
    assert window.run_panel.continue_button.isEnabled()
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window, start=window.continue_run)
    window.plot.refresh()
    assert list(window.plot.curve_data(second.run_id, 0, "residual")[0]) == [1, 2, 3, 4, 5, 6]
    assert second.last_k == 6


def test_continue_after_a_stop_resumes_each_measurement_where_it_was(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.set_algorithm("gap-tv")
    window.run_panel.form.set_values({"iterations": 400})
    window.run_panel.set_measurements([0, 1])
    with qtbot.waitSignal(window.runs.sigIdle, timeout=RUN_TIMEOUT_MS):
        record = window.start_run()
        qtbot.waitUntil(lambda: record.k_done.get(0, 0) >= 10, timeout=RUN_TIMEOUT_MS)
        window.stop_run()  # during measurement 0: measurement 1 never started
    stopped_at = record.results[0].iterations
    assert stopped_at < 400 and 1 not in record.estimates
    assert window.run_panel.continue_button.isEnabled()
    window.run_panel.form.set_values({"iterations": 3})
    run_and_wait(qtbot, window, start=window.continue_run)
    window.plot.refresh()
    k0 = list(window.plot.curve_data(record.run_id, 0, "residual")[0])
    k1 = list(window.plot.curve_data(record.run_id, 1, "residual")[0])
    assert k0[-4:] == [stopped_at, stopped_at + 1, stopped_at + 2, stopped_at + 3]
    assert k1 == [1, 2, 3]  # the measurement the stop left out starts afresh
    assert record.results[0].iterations == stopped_at + 3 and record.results[1].iterations == 3


def test_a_run_continues_on_its_own_scale_and_says_so(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    record = run_and_wait(qtbot, window)
    window.set_scale("max")
    assert window.capture.scale.value == "max" and record.capture.scale.value == "sim255"
    run_and_wait(qtbot, window, start=window.continue_run)
    assert record.results[0].iterations == 4
    assert any("continues on its own scale (sim255)" in line for line in window.log.lines())


def test_ground_truth_for_export_matches_each_runs_measurements(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.set_algorithm("gap-tv")
    window.run_panel.form.set_values({"iterations": 2})
    window.run_panel.set_measurements([1])
    on_1 = run_and_wait(qtbot, window)
    window.run_panel.set_measurements([0])
    on_0 = run_and_wait(qtbot, window)
    items = {i.label: i for i in window.export_items()}
    assert np.array_equal(items["Ground truth (meas 1)"].video, small_demo.ground_truth([1]))
    assert np.array_equal(items["Ground truth (meas 0)"].video, small_demo.ground_truth([0]))
    assert items[on_1.label].measurements == (1,) and items[on_0.label].measurements == (0,)
    dialog = window.show_export_dialog()
    checked = [i.label for i in dialog.selected()]
    assert len(checked) == 1  # the compare view shows both runs, but they are different scenes
    for i in range(dialog.item_list.count()):
        dialog.item_list.item(i).setCheckState(Qt.CheckState.Checked)
    dialog.composite_check.setChecked(True)
    dialog.start_export()
    assert not dialog.is_running() and "same measurements" in dialog.status.text()
    dialog.close()


def test_clearing_runs_clears_what_they_showed(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    window.tabs.setCurrentWidget(window.video)
    window.video.set_source("Estimate")
    window.video.refresh_data()
    assert window.video.volume() is not None
    window.clear_runs()
    assert window.status_label.text() == "runs cleared"
    assert window.video.volume() is None
    assert window.video.hist.plot.getData()[0] is None or len(window.video.hist.plot.getData()[0]) == 0


def test_export_mp4_and_read_back(qtbot, window, small_demo, tmp_path):
    imageio = pytest.importorskip("imageio.v3")
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    dialog = window.show_export_dialog()
    assert dialog is not None
    dialog.set_path(tmp_path / "out.mp4")
    dialog.composite_check.setChecked(False)
    with qtbot.waitSignal(dialog.sigExported, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.start_export()
    (path,) = blocker.args[0]
    frames = imageio.imread(path, plugin="pyav") if _has_pyav() else imageio.imread(path)
    assert frames.shape[0] == 8 and frames.shape[1:3] == (64, 64)
    assert (tmp_path / "out.mp4.yaml").exists()
    assert "gap-tv" in (tmp_path / "out.mp4.yaml").read_text()
    qtbot.waitUntil(lambda: not dialog.is_running())


def test_export_side_by_side_composite(qtbot, window, small_demo, tmp_path):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    run_and_wait(qtbot, window)
    dialog = window.show_export_dialog()
    for i in range(dialog.item_list.count()):
        dialog.item_list.item(i).setCheckState(dialog.item_list.item(i).checkState().Checked)
    dialog.set_path(tmp_path / "sbs.npz")
    with qtbot.waitSignal(dialog.sigExported, timeout=RUN_TIMEOUT_MS):
        dialog.start_export()
    data = np.load(tmp_path / "sbs.npz")["reconstruction"]
    assert data.shape[0] == 8 and data.shape[2] > 3 * 64  # three panels: two runs + ground truth
    qtbot.waitUntil(lambda: not dialog.is_running())


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def test_malformed_file_shows_error_and_keeps_capture(qtbot, window_and_dialogs, small_demo, tmp_path):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 3)
    window.open_capture(bad)
    qtbot.waitUntil(lambda: bool(dialogs.calls), timeout=RUN_TIMEOUT_MS)
    title, text = dialogs.calls[-1]
    assert "broken.mat" in title
    assert window.capture is small_demo
    assert window.capture_panel.label_text("name") == small_demo.name
    assert any("ERROR" in line and "broken.mat" in line for line in window.log.lines())
    # Still usable: a run goes through.
    window.run_panel.form.set_values({"iterations": 1})
    assert run_and_wait(qtbot, window).finished


def test_worker_exception_reaches_dialog_and_log(qtbot, window_and_dialogs, small_demo):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)
    from sci_viewer.engine import run_job

    def faulty(job, cancel):
        for n, event in enumerate(run_job(job, cancel)):
            if n == 2:
                raise RuntimeError("simulated solver crash")
            yield event

    window.runs.runner = faulty
    window.run_panel.form.set_values({"iterations": 10})
    record = run_and_wait(qtbot, window)
    assert dialogs.calls and "simulated solver crash" in dialogs.calls[-1][1]
    assert record.failed and "simulated solver crash" in record.failed
    assert any("simulated solver crash" in line for line in window.log.lines())
    assert "simulated solver crash" in (window.log._file.read_text())
    window.runs.runner = None
    assert run_and_wait(qtbot, window).finished  # the app stays usable


def test_real_like_capture_runs(qtbot, window):
    from sci_viewer.demo import real_like_capture

    capture = real_like_capture()  # 512 x 512, B = 10, calibrated grey-level mask, real_cr scale
    window.set_capture(capture)
    assert window.capture_panel.scale_combo.currentData() == "real_cr"
    assert "grey-level" in window.capture_panel.label_text("mask")
    window.run_panel.form.set_values({"iterations": 2})
    record = run_and_wait(qtbot, window)
    assert record.estimates[0].shape == (10, 512, 512)
    assert record.results[0].psnr is not None and record.results[0].psnr > 10


def test_scale_change_keeps_runs(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 1})
    record = run_and_wait(qtbot, window)
    window.capture_panel.scale_combo.setCurrentIndex(window.capture_panel.scale_combo.findData("max"))
    assert window.capture.scale.value == "max"
    assert window.runs.store.get(record.run_id) is record
    assert "max" in window.capture_panel.scale_help.text()


def test_de_rnn_plots_residual_and_psnr_live(qtbot, window, small_demo):
    window.set_capture(small_demo)
    assert window.run_panel.set_algorithm("de-rnn")
    assert window.run_panel.form.values()["model"] == "dernn-default"
    window.run_panel.form.set_values({"max_iter": 4, "tol": 1e-12})
    record = run_and_wait(qtbot, window)
    assert record.finished and record.failed is None
    window.plot.refresh()
    x, residual = window.plot.curve_data(record.run_id, 0, "residual")
    assert list(x) == [1, 2, 3, 4] and np.all(residual > 0)
    assert np.all(np.isfinite(window.plot.curve_data(record.run_id, 0, "psnr")[1]))
    qtbot.waitUntil(lambda: window.video.volume() is not None and window.video.volume().shape == (8, 64, 64))


def test_de_gap_runs_and_continues(qtbot, window, small_demo):
    from sci_viewer.algorithms import algorithm_names

    if "de-gap" not in algorithm_names():
        pytest.skip("DE-GAP is not registered")
    window.set_capture(small_demo)
    assert window.run_panel.set_algorithm("de-gap")
    window.run_panel.form.set_values({"max_iter": 3, "tol": 1e-12})
    record = run_and_wait(qtbot, window)
    if record.failed and "model" in record.failed:
        pytest.skip(f"no trained DE-GAP model: {record.failed}")
    assert record.failed is None and window.plot.point_count(record.run_id) == 3
    # the model auto chose, the noise DE-GAP estimated and its relaxed data step: in the log as
    # information, not a warning
    noted = [line for line in window.log.toPlainText().splitlines() if "measurement noise" in line]
    assert noted and all(" INFO " in line for line in noted), noted
    assert any("model auto: degap-" in line for line in noted) and any("relaxed data step" in line for line in noted)
    window.run_panel.form.set_values({"max_iter": 2})
    run_and_wait(qtbot, window, start=window.continue_run)
    window.plot.refresh()
    assert list(window.plot.curve_data(record.run_id, 0, "residual")[0]) == [1, 2, 3, 4, 5]


def test_a_batched_solve_keeps_the_views_on_one_measurement(qtbot, window, small_demo, monkeypatch):
    """A batched DE-GAP solve sends the events of both measurements in turn; the views stay on the
    measurement they show while it runs (no flicker) and the progress bar only grows."""
    from sci_viewer import batching
    from sci_viewer.algorithms import algorithm_names

    if "de-gap" not in algorithm_names():
        pytest.skip("DE-GAP is not registered")
    monkeypatch.setattr(batching, "CPU_BATCH", 2)
    window.set_capture(small_demo)
    assert window.run_panel.set_algorithm("de-gap")
    window.run_panel.form.set_values({"max_iter": 3, "tol": 1e-12})
    window.run_panel.set_measurements([0, 1])
    order, shown, progress = [], [], []

    def seen(record, event) -> None:  # connected after the window's own handler: sees its result
        order.append(event.measurement)
        shown.append(window.video.measurement())
        progress.append(window.status_line.progress.value())

    window.runs.sigIteration.connect(seen)
    record = run_and_wait(qtbot, window)
    if record.failed and "model" in record.failed:
        pytest.skip(f"no trained DE-GAP model: {record.failed}")
    assert record.failed is None
    assert record.measurements == [0, 1], record.measurements
    assert order[:2] == [0, 1], order  # solved together: the measurements' events in turn
    assert set(shown) == {0}
    assert progress == sorted(progress)
