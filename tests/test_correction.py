"""Real data: dark-frame subtraction, saturation levels, their provenance and replay (issue 14 item 1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml

from bad_inputs import negative_measurement, sample_arrays, to_matlab, write
from sci_viewer.cli import main
from sci_viewer.correction import Correction
from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, execute
from sci_viewer.errors import CaptureError
from sci_viewer.io import apply_correction, load_capture, load_dark
from sci_viewer.physics import Cacti


@pytest.fixture(scope="module")
def clipped():
    """A 64 x 64 demo measurement clipped at its 85th percentile, as a saturated sensor records it."""
    cap = demo_capture(size=64, n_meas=2)
    level = float(np.percentile(cap.meas, 85))
    return replace(cap, meas=np.minimum(cap.meas, level)), level


# -- dark frames ------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".npz", ".mat", ".tif"])
def test_a_dark_stack_is_averaged_and_subtracted(tmp_path, suffix):
    ref = sample_arrays()
    cap = load_capture(write(tmp_path / "c.npz", ref))
    rng = np.random.default_rng(1)
    stack = 10.0 + rng.normal(0, 2, (5, *cap.frame_shape))  # frames-first, as stored in .npz / .tif
    arrays = {"dark": stack} if suffix == ".npz" else to_matlab({"dark": stack}) if suffix == ".mat" else {"a": stack}
    dark_file = write(tmp_path / f"dark{suffix}", arrays)
    frame, how = load_dark(dark_file, cap.frame_shape)
    assert np.allclose(frame, stack.mean(0), atol=1e-4) and "mean of 5 frames" in how
    corrected = apply_correction(cap, str(dark_file))
    assert corrected.meas is cap.meas  # the raw data is kept as loaded
    expect = (ref["meas"].astype(np.float32) - frame) * np.float32(cap.measurement_factor())
    assert np.allclose(corrected.measurements(), expect, atol=1e-5)
    d = corrected.describe()
    assert d["dark"] == str(dark_file) and d["meas_range"] == cap.describe()["meas_range"]
    assert any("Dark subtracted" in n and "raw values are kept" in n for n in d["notes"])
    assert corrected.config()["dark"] == str(dark_file)


def test_a_constant_dark_offset_and_the_negatives_it_leaves(tmp_path):
    ref = sample_arrays()
    cap = load_capture(write(tmp_path / "c.npz", ref))
    corrected = apply_correction(cap, "12.5")
    raw = ref["meas"] - 12.5
    assert np.allclose(corrected.measurements(), raw.astype(np.float32) / 255, atol=1e-6)
    d = corrected.describe()
    assert d["negative_pixels"] == int(np.count_nonzero(raw < 0)) > 0 and d["negative_min"] == -12.5
    assert d["corrected_range"][0] == -12.5 and corrected.config()["dark"] == 12.5
    assert cap.describe()["negative_pixels"] == 0


def test_dark_frame_refusals(tmp_path):
    cap = load_capture(write(tmp_path / "c.npz", sample_arrays()))
    wrong = write(tmp_path / "wrong.npz", {"dark": np.zeros((10, 10))})
    with pytest.raises(CaptureError, match=r"wrong.npz: variable 'dark'.*10 x 10.*24 x 20"):
        apply_correction(cap, str(wrong))
    bad = np.zeros(cap.frame_shape)
    bad[3, 3] = np.nan
    with pytest.raises(CaptureError, match="NaN or infinite"):
        apply_correction(cap, str(write(tmp_path / "nan.npz", {"dark": bad})))
    with pytest.raises(CaptureError, match="no such file, and not a number"):
        apply_correction(cap, "absent.npz")
    with pytest.raises(CaptureError, match="above 0"):
        apply_correction(cap, None, saturation=0.0)
    with pytest.raises(CaptureError, match="height and width"):
        cap.with_correction(Correction(dark=np.zeros((3, 3), np.float32)))


# -- saturation -------------------------------------------------------------------------------

def test_saturated_pixels_are_counted_and_weighted_out(clipped):
    cap, level = clipped
    sat = cap.with_correction(Correction(saturation=level))
    weights = sat.valid_pixels([1])
    assert weights.shape == (1, *cap.frame_shape)
    assert np.array_equal(weights[0] == 0, cap.meas[1] >= level)
    d = sat.describe()
    assert d["saturated_pixels"] == int(np.count_nonzero(cap.meas >= level)) > 0
    assert any(f"{d['saturated_pixels']} pixel(s)" in n and "left out of the data term" in n for n in d["notes"])
    assert cap.valid_pixels() is None and cap.describe()["saturated_pixels"] is None


def test_the_projection_ignores_saturated_pixels_and_fits_the_others():
    gen = torch.Generator().manual_seed(0)
    mask = (torch.rand(4, 8, 6, generator=gen) < 0.5).float()
    mask[:, 0, 0] = 1
    v, y = torch.rand(4, 8, 6, generator=gen), torch.rand(8, 6, generator=gen) * 2
    valid = torch.ones(8, 6)
    valid[0, 0] = valid[3, 2] = 0
    op = Cacti(mask, valid)
    x = op.project(v, y)
    for h, w in ((0, 0), (3, 2)):
        assert torch.equal(x[:, h, w], v[:, h, w])  # not pulled towards the clipped value
    fit = (Cacti(mask).A(x) - y).abs() * valid * (mask.sum(0) > 0)
    assert float(fit.max()) < 1e-5  # the measurement holds exactly at the valid pixels


def test_without_saturation_the_arithmetic_is_unchanged(clipped):
    gen = torch.Generator().manual_seed(1)
    mask = (torch.rand(4, 8, 6, generator=gen) < 0.5).float()
    v, y = torch.rand(4, 8, 6, generator=gen), torch.rand(8, 6, generator=gen)
    op = Cacti(mask)
    assert torch.equal(op.project(v, y), v + op.At((y - op.A(v)) / op.phi_sum))  # the formula as it was
    cap, _ = clipped
    plain = execute(Job(cap, "gap-tv", {"iterations": 5}, device="cpu", measurements=[0]))
    none_reach = cap.with_correction(Correction(saturation=float(cap.meas.max()) + 1))  # every weight 1
    same = execute(Job(none_reach, "gap-tv", {"iterations": 5}, device="cpu", measurements=[0]))
    assert np.array_equal(plain.results[0].estimate, same.results[0].estimate)


@pytest.mark.parametrize("algo, settings", [("gap-tv", {}), ("de-gap", {"max_iter": 40}),
                                            ("de-rnn", {"max_iter": 40})])
def test_a_saturation_level_brings_the_estimate_closer_to_the_truth(clipped, algo, settings):
    cap, level = clipped
    job = dict(device="cpu", measurements=[0], track_metrics=False)
    without = execute(Job(cap, algo, settings, **job)).results[0].psnr
    given = execute(Job(cap.with_correction(Correction(saturation=level)), algo, settings, **job)).results[0].psnr
    assert given > without + 0.5, (without, given)


def test_the_data_residual_counts_the_valid_pixels_only(clipped):
    from sci_viewer.metrics import data_residual

    cap, level = clipped
    sat = cap.with_correction(Correction(saturation=level))
    result = execute(Job(sat, "gap-tv", {"iterations": 5}, device="cpu", measurements=[0])).results[0]
    w = sat.valid_pixels([0])[0]
    y = sat.measurements([0])[0]
    ax = (sat.mask_float() * result.estimate).sum(0)
    assert result.final_data_residual == pytest.approx(data_residual(w * y, w * ax), rel=1e-4)
    assert result.final_data_residual < data_residual(y, ax)  # the clipped pixels do not count against it


def test_batched_equilibrium_solves_keep_each_measurements_saturation(clipped):
    cap, level = clipped
    sat = cap.with_correction(Correction(saturation=level))
    settings = {"max_iter": 6, "tol": 0.0}
    apart = execute(Job(sat, "de-gap", settings, device="cpu", batch=1, track_metrics=False))
    together = execute(Job(sat, "de-gap", settings, device="cpu", batch=2, track_metrics=False))
    for a, b in zip(apart.results, together.results):
        assert np.allclose(a.estimate, b.estimate, atol=1e-4)


# -- provenance and replay ---------------------------------------------------------------------

def test_the_run_configuration_records_and_replays_dark_and_saturation(tmp_path, capsys):
    path, meas = negative_measurement(tmp_path / "neg.mat")
    dark = write(tmp_path / "dark.npz", {"dark": np.full(meas.shape[1:], 1.5)})
    out = tmp_path / "run.npz"
    assert main(["reconstruct", str(path), "--dark", str(dark), "--saturation", "15", "--iters", "3",
                 "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    first = capsys.readouterr().out.splitlines()[0].split(" it ")[0]
    saved = yaml.safe_load((tmp_path / "run.npz.yaml").read_text())["capture"]
    assert saved["dark"] == str(dark) and saved["saturation"] == 15.0
    assert main(["reconstruct", "--config", str(out) + ".yaml", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(" it ")[0] == first
    # without the dark frame and the level, the same run comes out differently
    assert main(["reconstruct", str(path), "--iters", "3", "--device", "cpu", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(" it ")[0] != first


def test_info_reports_negatives_dark_and_saturation(tmp_path, capsys):
    path, meas = negative_measurement(tmp_path / "neg.mat")
    assert main(["info", str(path), "--dark", "2", "--saturation", "10"]) == 0
    text = capsys.readouterr().out
    shifted = meas - 2
    assert f"negative       {int(np.count_nonzero(shifted < 0))} pixel(s), min {shifted.min():g}" in text
    assert f"{int(np.count_nonzero(meas >= 10))} pixel(s) saturated" in text
    assert main(["info", str(path), "--dark", "nowhere.npz"]) == 2
    assert "no such file" in capsys.readouterr().err
