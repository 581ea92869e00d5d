"""The app's parts: settings form, settings store and YAML configs, plot export, video view,
mask loading, drag-and-drop, back-to-back runs, the ``gui`` subcommand."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from sci_viewer.gui.testing import RUN_TIMEOUT_MS, load_and_wait, run_and_wait, start_then_stop  # noqa: E402

pytestmark = pytest.mark.gui


@dataclass
class _Settings:
    iterations: int = 7
    tol: float = 1e-5
    anderson: bool = True
    mode: Literal["fast", "exact"] = "exact"
    sigma: float | None = None
    sigmas: list[float] = field(default_factory=lambda: [0.2, 0.1])
    model: str = "net"


def test_settings_form_is_generated_from_dataclass_fields(qtbot):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

    from sci_viewer.gui.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    form.set_settings_type(_Settings)
    assert form.field_names() == ["iterations", "tol", "anderson", "mode", "sigma", "sigmas", "model"]
    assert isinstance(form.editor("iterations"), QSpinBox)
    assert isinstance(form.editor("anderson"), QCheckBox)
    assert isinstance(form.editor("mode"), QComboBox)
    assert isinstance(form.editor("tol"), QLineEdit)
    assert form.values() == {"iterations": 7, "tol": 1e-5, "anderson": True, "mode": "exact", "sigma": None,
                             "sigmas": [0.2, 0.1], "model": "net"}
    form.set_values({"iterations": 3, "tol": 2e-4, "anderson": False, "mode": "fast", "sigma": 0.05,
                     "sigmas": [0.3], "model": "other"})
    assert _Settings(**form.values()) == _Settings(3, 2e-4, False, "fast", 0.05, [0.3], "other")
    form.editor("sigma").setText("")
    assert form.values()["sigma"] is None


@pytest.mark.parametrize("algo, name, text, message", [
    ("gap-tv", "tv_weight", "1e", "tv_weight must be a finite number, got '1e'"),
    ("gap-tv", "tv_weight", "-", "tv_weight must be a finite number, got '-'"),
    ("de-gap", "sigma", "abc", "sigma must be a finite number, got 'abc'"),
    ("pnp-gap", "sigmas", "[50, 25", "sigmas"),
])
def test_text_the_form_cannot_read_is_refused_by_name(window_and_dialogs, small_demo, algo, name, text, message):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)
    window.run_panel.set_algorithm(algo)
    window.run_panel.form.editor(name).setText(text)
    assert window.start_run() is None and not window.runs.is_running()
    assert any(message in body for _, body in dialogs.calls), dialogs.calls


def test_a_decimal_comma_is_read_as_a_decimal_point(qtbot):
    from sci_viewer.gui.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    form.set_settings_type(_Settings)
    form.editor("sigma").setText("0,5")
    assert form.values()["sigma"] == 0.5


def test_settings_form_labels_fields_by_name_or_metadata(qtbot):
    from PySide6.QtWidgets import QFormLayout

    from sci_viewer.algorithms import get_algorithm
    from sci_viewer.gui.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    form.set_settings_type(get_algorithm("de-gap").settings_type)
    layout = form.findChild(QFormLayout)
    labels = {layout.labelForField(form.editor(name)).text() for name in ("max_iter", "gap_tv_start")}
    assert labels == {"Max iter", "GAP-TV start"}


def test_every_registered_algorithm_gets_a_valid_form(window):
    from sci_viewer.algorithms import algorithm_names, get_algorithm

    for name in algorithm_names():
        assert window.run_panel.set_algorithm(name)
        get_algorithm(name).settings(**window.run_panel.form.values())  # accepted as is


@pytest.mark.parametrize("algo", ["pnp-gap", "de-gap"])
def test_the_denoiser_ensemble_is_a_list_of_its_sizes(window, algo):
    from PySide6.QtWidgets import QComboBox

    from sci_viewer.algorithms import get_algorithm

    assert window.run_panel.set_algorithm(algo)
    combo = window.run_panel.form.editor("ensemble")
    assert isinstance(combo, QComboBox) and [combo.itemText(i) for i in range(combo.count())] == ["1", "2", "4", "8"]
    combo.setCurrentIndex(3)
    values = window.run_panel.form.values()
    assert values["ensemble"] == 8 and get_algorithm(algo).settings(**values).ensemble == 8


def test_settings_store_remembers(tmp_path):
    from sci_viewer.gui.main_window import isolated_settings

    store = isolated_settings(tmp_path / "s.ini")
    store.set_fps(17.5)
    store.set_colormap("viridis")
    for name in ("a.mat", "b.mat", "a.mat"):
        store.add_recent_file(tmp_path / name)
    store.set_algorithm_defaults("gap-tv", {"iterations": 12})
    store.sync()
    again = isolated_settings(tmp_path / "s.ini")
    assert again.fps() == 17.5 and again.colormap() == "viridis"
    assert [p.rsplit("/", 1)[-1] for p in again.recent_files()] == ["a.mat", "b.mat"]
    assert again.algorithm_defaults("gap-tv") == {"iterations": 12}


def test_run_config_yaml_roundtrip(window, small_demo, tmp_path, window_and_dialogs):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 9, "tv_weight": 0.15})
    window.run_panel.set_measurements([1])
    window.save_config(tmp_path / "run.yaml")
    window.run_panel.form.set_values({"iterations": 40, "tv_weight": 0.3})
    window.run_panel.set_measurements([0])
    window.load_config(tmp_path / "run.yaml")
    opts = window.run_panel.job_options()
    assert opts["settings"]["iterations"] == 9 and opts["settings"]["tv_weight"] == 0.15
    assert opts["measurements"] == [1]
    # A file that is not a run configuration is refused with a dialog.
    (tmp_path / "bad.yaml").write_text("just: text\n")
    window.load_config(tmp_path / "bad.yaml")
    assert "not a run configuration" in window_and_dialogs[1].calls[-1][1]


@pytest.mark.parametrize("text, message", [
    ("algo: nope", "algorithm 'nope' is unknown"),
    ("algo: gap-tv\nsettings: {iterations: abc}", "iterations must be a whole number, got 'abc'"),
    ("algo: gap-tv\nsettings: {iterations: 2.7}", "iterations must be a whole number"),
    ("algo: de-gap\nsettings: {tol: -1}", "tol must be 0 or more"),
    ("algo: gap-tv\nmeasurements: [a]", "measurements must be a list of whole numbers"),
])
def test_a_bad_run_configuration_changes_nothing(window_and_dialogs, small_demo, tmp_path, text, message):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)
    window.run_panel.set_algorithm("gap-tv")
    window.run_panel.form.set_values({"iterations": 9})
    before = window.run_panel.job_options()
    (tmp_path / "run.yaml").write_text(text)
    window.load_config(tmp_path / "run.yaml")
    assert message in dialogs.calls[-1][1]
    assert window.run_panel.job_options() == before


def test_a_run_configuration_for_other_measurements_keeps_the_choice(window_and_dialogs, small_demo, tmp_path):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo)  # two measurements
    window.run_panel.set_measurements([1])
    (tmp_path / "run.yaml").write_text("algo: gap-tv\nsettings: {iterations: 5}\nmeasurements: [5]\n")
    window.load_config(tmp_path / "run.yaml")
    opts = window.run_panel.job_options()
    assert opts["settings"]["iterations"] == 5 and opts["measurements"] == [1] and not dialogs.calls
    assert "not in this capture" in window.statusBar().currentMessage()


def test_plot_export_png_and_csv(qtbot, window, small_demo, tmp_path):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 4})
    record = run_and_wait(qtbot, window)
    png = window.plot.export_png(tmp_path / "plot.png")
    assert png.stat().st_size > 1000
    rows = list(csv.DictReader(open(window.plot.export_csv(tmp_path / "plot.csv"))))
    assert [int(r["k"]) for r in rows] == [1, 2, 3, 4]
    assert all(r["run"] == record.label and float(r["residual"]) > 0 and r["psnr"] for r in rows)


def test_video_view_levels_frames_and_sources(qtbot, window, small_demo):
    window.set_capture(small_demo)
    video = window.video
    video.set_source("Ground truth")
    assert video.volume().shape == (8, 64, 64)
    assert video.levels() == (0.0, 1.0)
    video.set_frame(5)
    assert video.levels() == (0.0, 1.0) and video.frame_label.text() == "frame 6/8"
    video.set_levels(0.1, 0.7)
    video.set_frame(2)
    assert video.levels() == (0.1, 0.7)  # contrast stays put across frames
    video.play_button.setChecked(True)
    video.fps_spin.setValue(60)
    qtbot.waitUntil(lambda: video.frame() != 2, timeout=3000)
    video.play_button.setChecked(False)
    video.set_source("Measurement")
    assert video.volume().shape == (1, 64, 64)
    video.set_source("Mask")
    assert video.volume().shape == (8, 64, 64)
    video.set_colormap("viridis")
    assert window.store.colormap() == "viridis"


def test_capture_then_separate_mask(qtbot, window, small_demo, tmp_path):
    np.savez(tmp_path / "cap.npz", meas=small_demo.meas)
    np.savez(tmp_path / "cal_mask.npz", mask=small_demo.mask)
    load_and_wait(qtbot, window, tmp_path / "cap.npz")
    assert window.capture.mask is None
    assert "none" in window.capture_panel.label_text("mask_source")
    before = window.capture
    window.open_mask(tmp_path / "cal_mask.npz")
    qtbot.waitUntil(lambda: window.capture is not before and window.busy_tasks() == 0, timeout=RUN_TIMEOUT_MS)
    assert window.capture.mask.shape == (8, 64, 64)
    assert "cal_mask.npz" in window.capture_panel.label_text("mask_source")
    window.run_panel.form.set_values({"iterations": 2})
    assert run_and_wait(qtbot, window).finished


def test_run_without_mask_is_refused_with_a_message(qtbot, window_and_dialogs, small_demo):
    window, dialogs = window_and_dialogs
    window.set_capture(small_demo.__class__(small_demo.meas, name="no mask"))
    assert window.start_run() is None
    assert "mask" in dialogs.calls[-1][1]
    assert "has no mask" in window.statusBar().currentMessage()
    window.set_capture(small_demo)   # the notice was about the capture that is gone
    assert window.statusBar().currentMessage() == ""


def test_drop_two_files_opens_capture_and_mask(qtbot, window, small_demo, tmp_path):
    np.savez(tmp_path / "scene.npz", meas=small_demo.meas)
    np.savez(tmp_path / "scene_mask.npz", mask=small_demo.mask)
    before = window.capture
    window.open_dropped([str(tmp_path / "scene_mask.npz"), str(tmp_path / "scene.npz")])
    qtbot.waitUntil(lambda: window.capture is not before and window.busy_tasks() == 0, timeout=RUN_TIMEOUT_MS)
    assert window.capture.mask is not None
    assert window.store.recent_files()[0].endswith("scene.npz")
    assert window.recent_menu.actions()
    # a file deleted since leaves Open recent once it fails to open
    (tmp_path / "scene.npz").unlink()
    window.open_capture(tmp_path / "scene.npz")
    qtbot.waitUntil(lambda: window.busy_tasks() == 0, timeout=RUN_TIMEOUT_MS)
    assert not any(p.endswith("scene.npz") for p in window.store.recent_files())


def test_dropping_two_captures_opens_one_and_says_so(qtbot, window, small_demo, tmp_path):
    for name in ("a.npz", "b.npz"):
        np.savez(tmp_path / name, meas=small_demo.meas, mask=small_demo.mask)
    window.open_dropped([str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])
    qtbot.waitUntil(lambda: window.busy_tasks() == 0, timeout=RUN_TIMEOUT_MS)
    assert window.capture.name == "a"
    assert any("not opened b.npz" in line for line in window.log.lines())


def test_back_to_back_runs_do_not_mix(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2000})
    long_run, _ = start_then_stop(qtbot, window, 2)
    n_long = window.plot.point_count(long_run.run_id)
    window.run_panel.form.set_values({"iterations": 3})
    short = run_and_wait(qtbot, window)
    assert window.plot.point_count(short.run_id) == 3
    assert window.plot.point_count(long_run.run_id) == n_long
    assert len(short.estimates) == 1 and len(long_run.estimates) == 1  # bounded: latest estimate only


def test_gui_subcommand_is_wired():
    from sci_viewer.cli import build_parser

    args = build_parser().parse_args(["gui", "capture.mat", "--mask", "m.mat"])
    assert args.command == "gui" and args.capture == "capture.mat" and args.mask == "m.mat"
    from sci_viewer.commands import gui

    assert args.handler is gui.run


def test_run_history_is_bounded(small_demo):
    from sci_viewer.gui.run_store import RunStore

    store = RunStore(max_runs=3)
    runs = [store.new_run("gap-tv", "GAP-TV", {}, "cpu", [0], small_demo) for _ in range(5)]
    assert [r.label for r in store.runs()] == ["GAP-TV #3", "GAP-TV #4", "GAP-TV #5"]
    assert store.get(runs[0].run_id) is None


def test_instant_tasks_are_all_noticed(qtbot, window):
    """A task that ends before its thread's signals could be connected is still counted as done."""
    results = []
    for i in range(20):
        window.tasks.submit(lambda progress, cancel, i=i: i, results.append, lambda m, d: results.append(m))
    qtbot.waitUntil(lambda: window.busy_tasks() == 0 and len(results) == 20, timeout=RUN_TIMEOUT_MS)
    assert sorted(results) == list(range(20))


def test_workers_are_deleted_on_the_gui_thread(qtbot):
    """A worker is back on the GUI thread when it says it is done, so its deletion runs there."""
    from PySide6.QtCore import QCoreApplication, QObject, Qt

    from sci_viewer.gui.worker import TaskWorker, start_worker

    parent = QObject()
    worker = TaskWorker(lambda progress, cancel: 1)
    seen = []
    worker.sigDone.connect(lambda: seen.append(worker.thread()), Qt.ConnectionType.DirectConnection)
    thread = start_worker(worker, parent)
    qtbot.waitUntil(lambda: bool(seen), timeout=RUN_TIMEOUT_MS)
    assert seen[0] is QCoreApplication.instance().thread()
    assert seen[0] is not thread


def test_running_threads_lists_a_worker_until_its_thread_ends(qtbot):
    import threading

    from PySide6.QtCore import QObject

    from sci_viewer.gui.worker import TaskWorker, running_threads, start_worker

    release = threading.Event()
    parent = QObject()
    worker = TaskWorker(lambda progress, cancel: release.wait(30))  # kept: the thread does not own it
    thread = start_worker(worker, parent)
    assert thread in running_threads()
    release.set()
    qtbot.waitUntil(lambda: thread not in running_threads(), timeout=RUN_TIMEOUT_MS)


def test_hover_and_pixel_readouts(qtbot, window, small_demo):
    import math

    from PySide6.QtCore import QPointF

    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 4})
    record = run_and_wait(qtbot, window)
    plot = window.plot
    plot.refresh()
    x, y = plot.curve_data(record.run_id, 0, "residual")
    vb = plot.plots["residual"].vb

    def settled() -> bool:  # the plot fits its data lazily, on a later event-loop pass
        (x0, x1), (y0, y1) = vb.viewRange()
        return vb.width() > 50 and x0 <= 2 <= x1 and y0 <= math.log10(y[1]) <= y1

    qtbot.waitUntil(settled)
    scene_pos = plot.plots["residual"].vb.mapViewToScene(QPointF(2, math.log10(y[1])))
    plot._hover(scene_pos)
    assert "K=2" in plot.hover_label.text() and "PSNR" in plot.hover_label.text()
    video = window.video
    video.set_source("Ground truth")
    # The view fits the frame lazily, on a later event-loop pass.
    qtbot.waitUntil(lambda: video.view.sceneBoundingRect().contains(video.image.mapToScene(QPointF(3.5, 4.5))))
    video._mouse_moved(video.image.mapToScene(QPointF(3.5, 4.5)))
    expected = small_demo.ground_truth([0])[0][video.frame(), 4, 3]
    assert video.pixel_label.text() == f"x 3  y 4  value {float(expected):.4g}"


def test_algorithm_defaults_are_remembered(qtbot, window, small_demo):
    from sci_viewer.gui.main_window import MainWindow

    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2, "tv_weight": 0.2})
    run_and_wait(qtbot, window)
    again = MainWindow(settings=window.store, log_file=window.log._file)
    qtbot.addWidget(again)
    assert again.run_panel.form.values()["iterations"] == 2
    assert again.run_panel.form.values()["tv_weight"] == 0.2


def test_closing_during_a_run_stops_it_cleanly(qtbot, window, small_demo):
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2000})
    record = window.start_run()
    qtbot.waitUntil(lambda: window.plot.point_count(record.run_id) >= 2, timeout=RUN_TIMEOUT_MS)
    window.close()
    assert window.runs.wait(1000)
    assert window.plot.point_count(record.run_id) < 2000


def test_gui_latency_benchmark_runs(tmp_path, small_demo):
    import os
    import subprocess
    import sys

    np.savez(tmp_path / "tiny.npz", meas=small_demo.meas, mask=small_demo.mask)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "sci_viewer.cli", "bench", "gui-latency", "--capture",
                          str(tmp_path / "tiny.npz"), "--iterations", "5", "--measurements", "0"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "worst timer delay" in out.stdout, out.stdout + out.stderr
    assert "5 iterations" in out.stdout
    demo = subprocess.run([sys.executable, "-m", "sci_viewer.cli", "bench", "gui-latency", "--demo", "64,10,2",
                           "--iterations", "2", "--measurements", "0,1", "--tab", "compare"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert "on demo: 4 iterations" in demo.stdout, demo.stdout + demo.stderr


def test_model_setting_lists_the_shipped_models(window):
    from PySide6.QtWidgets import QComboBox

    from sci_viewer.models import denoiser_model_names, recurrent_model_names

    assert window.run_panel.set_algorithm("de-rnn")
    combo = window.run_panel.form._fields["model"].widget
    rnn_listed = [combo.itemText(i) for i in range(combo.count())]
    assert rnn_listed == recurrent_model_names() and "dernn-default" in rnn_listed
    assert window.run_panel.set_algorithm("de-gap")
    combo = window.run_panel.form._fields["model"].widget
    assert isinstance(combo, QComboBox) and combo.isEditable()
    listed = [combo.itemText(i) for i in range(combo.count())]
    assert listed == ["auto"] + denoiser_model_names() and "degap-default" in listed and "dernn-default" not in listed
    assert window.run_panel.form.values()["model"] == "auto"
    combo.setCurrentText("/some/other.pt")  # a path can still be typed
    assert window.run_panel.form.values()["model"] == "/some/other.pt"


def test_mask_file_longer_than_b_uses_the_first_b_frames(qtbot, window, tmp_path, shared_data):
    import scipy.io

    real = shared_data / "real" / "meas_waterBalloon_cr_10.mat"
    load_and_wait(qtbot, window, real)
    assert window.capture.mask is None
    mask_file = tmp_path / "real_mask.mat"
    scipy.io.savemat(mask_file, {"mask": (np.random.default_rng(0).random((512, 512, 50)) < 0.5).astype(np.uint8)})
    before = window.capture
    window.open_mask(mask_file)
    qtbot.waitUntil(lambda: window.capture is not before, timeout=RUN_TIMEOUT_MS)
    assert window.capture.mask.shape == (10, 512, 512)
    # a mask of fewer frames than the name's B is used whole, and the capture says so
    short = tmp_path / "mask8.mat"
    scipy.io.savemat(short, {"mask": np.ones((512, 512, 8), np.uint8)})
    before = window.capture
    window.open_mask(short)
    qtbot.waitUntil(lambda: window.capture is not before, timeout=RUN_TIMEOUT_MS)
    assert window.capture.mask.shape == (8, 512, 512)
    assert any("has 8 frames: using B = 8" in n for n in window.capture.notes)
    assert any("has 8 frames: using B = 8" in line for line in window.log.lines())  # the operator sees it


def test_app_startup_freezes_the_objects_it_made(qtbot):
    """Startup objects go to the GC's permanent generation, so full collections stay short during runs."""
    import gc

    from sci_viewer.gui.app import make_app

    gc.unfreeze()
    make_app()
    assert gc.get_freeze_count() > 1000


def test_export_names_with_dots_keep_their_name(window, small_demo, tmp_path, qtbot):
    from sci_viewer.gui.export_dialog import with_format
    from sci_viewer.gui.testing import RUN_TIMEOUT_MS, run_and_wait

    assert with_format(Path("a/run.v2"), ".mp4") == Path("a/run.v2.mp4")
    assert with_format(Path("a/run.gif"), ".mp4") == Path("a/run.mp4")
    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    dialog = window.show_export_dialog()
    dialog.path_edit.setText(str(tmp_path / "run.v2"))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".npz"))
    assert dialog.path_edit.text() == str(tmp_path / "run.v2.npz")
    dialog.path_edit.setText(str(tmp_path / "take.v3"))  # typed after choosing the format
    with qtbot.waitSignal(dialog.sigExported, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.start_export()
    assert [Path(p).name for p in blocker.args[0]] == ["take.v3.npz"]
    dialog.close()


def test_the_app_names_plugins_that_failed_to_load(qtbot, tmp_path, monkeypatch):
    from sci_viewer import plugins
    from sci_viewer.gui.testing import make_window

    monkeypatch.setattr(plugins, "load_errors", {"/somewhere/broken.py": "SyntaxError: invalid syntax (line 3)"})
    window, _ = make_window(qtbot, tmp_path, monkeypatch)
    assert any("/somewhere/broken.py" in line and "SyntaxError" in line for line in window.log.lines())
    assert "broken.py" in window.statusBar().currentMessage()


def test_compare_panes_say_when_a_run_lacks_the_measurement(qtbot, window, small_demo):
    from sci_viewer.gui.testing import run_and_wait

    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    window.run_panel.set_measurements([1])
    record = run_and_wait(qtbot, window)
    window.tabs.setCurrentWidget(window.compare)
    window.compare.set_pane(0, f"run:{record.run_id}")
    window.compare.meas_spin.setValue(0)
    window.compare.refresh_data()
    assert "not reconstructed for measurement 0" in window.compare.panes[0].title.text
    window.compare.meas_spin.setValue(1)
    window.compare.refresh_data()
    assert "not reconstructed" not in window.compare.panes[0].title.text


def test_frame_labels_give_the_psnr_the_reports_give():
    from sci_viewer.gui.video_view import frame_psnr
    from sci_viewer.metrics import psnr_per_frame

    rng = np.random.default_rng(0)
    truth = rng.random((3, 16, 16)).astype(np.float32)
    estimate = truth + rng.normal(0, 0.2, truth.shape).astype(np.float32)  # reaches below 0 and above 1
    assert estimate.min() < 0 and estimate.max() > 1
    assert np.allclose([frame_psnr(e, t) for e, t in zip(estimate, truth)], psnr_per_frame(estimate, truth))


def test_new_compare_sources_redraw_once(qtbot, window, small_demo, monkeypatch):
    from sci_viewer.gui.testing import run_and_wait

    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    calls = []
    original = window.compare.refresh_data
    monkeypatch.setattr(window.compare, "refresh_data", lambda: (calls.append(1), original()))
    window._update_compare_sources(default_panes=True)
    assert len(calls) == 1  # not once per pane: each costs ~25 ms on a 512 x 512 x 10 video


def test_sampled_percentiles_are_close_to_the_full_ones():
    from sci_viewer.gui.video_view import sampled_percentile

    volume = np.random.default_rng(1).normal(size=(10, 512, 512)).astype(np.float32)
    assert np.allclose(sampled_percentile(volume, [0.5, 99.5]), np.percentile(volume, [0.5, 99.5]), rtol=0.02)
    small = volume[0, :8, :8]
    assert np.array_equal(sampled_percentile(small, 50), np.percentile(small, 50))  # small: all values


def test_export_asks_before_replacing_a_typed_existing_file(window, small_demo, tmp_path, qtbot):
    from sci_viewer.gui.testing import RUN_TIMEOUT_MS, run_and_wait

    window.set_capture(small_demo)
    window.run_panel.form.set_values({"iterations": 2})
    run_and_wait(qtbot, window)
    target = tmp_path / "keep.npz"
    target.write_bytes(b"mine")
    dialog = window.show_export_dialog()
    dialog.set_path(target)
    dialog.start_export()
    assert not dialog.is_running() and "press Export again to replace" in dialog.status.text()
    assert target.read_bytes() == b"mine"
    with qtbot.waitSignal(dialog.sigExported, timeout=RUN_TIMEOUT_MS):
        dialog.start_export()  # the second press replaces it
    assert target.read_bytes() != b"mine"
    dialog.close()
