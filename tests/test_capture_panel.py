"""The app's capture panel on real data: negative pixels, a dark frame (constant or file), a saturation level."""

from __future__ import annotations

import numpy as np

from bad_inputs import negative_measurement, write
from sci_viewer.gui.testing import RUN_TIMEOUT_MS, load_and_wait


def _loaded(qtbot, window, tmp_path):
    path, meas = negative_measurement(tmp_path / "neg.mat")
    load_and_wait(qtbot, window, path)
    return path, meas


def test_negative_pixels_are_shown_and_logged(qtbot, window, tmp_path):
    _, meas = _loaded(qtbot, window, tmp_path)
    n, low = int(np.count_nonzero(meas < 0)), float(meas.min())
    assert window.capture.describe()["negative_pixels"] == n
    assert window.capture_panel.label_text("negative").startswith(f"{n} (") and f"min {low:g}" in \
        window.capture_panel.label_text("negative")
    assert any("are negative" in line and f"{low:g}" in line for line in window.log.lines())


def test_a_constant_dark_offset_and_a_saturation_level_apply_at_once(qtbot, window, tmp_path):
    _, meas = _loaded(qtbot, window, tmp_path)
    panel = window.capture_panel
    panel.dark_edit.setText("2.5")
    assert panel.apply_correction() is None  # cheap: on the GUI thread
    assert window.capture.correction.dark == 2.5 and "after the dark frame" in panel.label_text("range")
    assert window.capture.meas is not None and np.array_equal(window.capture.meas, meas)  # raw kept
    panel.saturation_spin.setValue(12.0)
    panel.apply_correction()
    n = int(np.count_nonzero(meas >= 12.0))
    assert window.capture.correction.saturation == 12.0 and window.capture.correction.dark == 2.5
    assert panel.label_text("saturated").startswith(f"{n} at or above 12")
    assert any("Saturation level 12" in line for line in window.log.lines())
    cfg = window.run_config()["capture"]
    assert cfg["dark"] == 2.5 and cfg["saturation"] == 12.0
    panel.saturation_spin.setValue(0.0)  # "off"
    panel.dark_edit.setText("")
    panel.apply_correction()
    assert window.capture.correction.dark is None and window.capture.correction.saturation is None


def test_a_dark_frame_file_is_read_on_a_worker(qtbot, window, tmp_path):
    _, meas = _loaded(qtbot, window, tmp_path)
    dark = write(tmp_path / "dark.npz", {"dark": np.full((3, *meas.shape[1:]), 1.25)})
    panel = window.capture_panel
    panel.dark_edit.setText(str(dark))
    assert panel.apply_correction() is not None  # a TaskWorker
    qtbot.waitUntil(lambda: window.busy_tasks() == 0 and window.capture.correction.dark_source == str(dark),
                    timeout=RUN_TIMEOUT_MS)
    assert np.allclose(window.capture.correction.dark, 1.25)
    assert any("Dark subtracted" in line and "mean of 3 frames" in line for line in window.log.lines())
    panel.saturation_spin.setValue(30.0)  # the frame already read is kept: no second read
    assert panel.apply_correction() is None and window.capture.correction.dark_source == str(dark)


def test_a_bad_dark_frame_is_refused_and_the_capture_kept(qtbot, window_and_dialogs, tmp_path):
    window, dialogs = window_and_dialogs
    _loaded(qtbot, window, tmp_path)
    before = window.capture
    panel = window.capture_panel
    panel.dark_edit.setText("not-a-file-nor-a-number")
    panel.apply_correction()
    assert window.capture is before and panel.dark_edit.text() == ""
    assert dialogs.calls and "not a number" in dialogs.calls[-1][1]
    wrong = write(tmp_path / "small.npz", {"dark": np.zeros((4, 4))})
    panel.dark_edit.setText(str(wrong))
    panel.apply_correction()
    qtbot.waitUntil(lambda: window.busy_tasks() == 0, timeout=RUN_TIMEOUT_MS)
    assert window.capture is before and "4 x 4" in dialogs.calls[-1][1]
