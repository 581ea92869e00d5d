"""Loaders: every shared file, round trips in every format and layout, and a corpus of bad files."""

from __future__ import annotations

import numpy as np
import pytest

from bad_inputs import (B, H, N, W, corpus, make, negative_measurement, sample_arrays, to_matlab, write,
                        write_mat73)
from sci_viewer.capture import Scale
from sci_viewer.errors import CaptureError, MaskRequiredError
from sci_viewer.io import frames_from_name, inspect_file, load_capture, load_mask

# -- the shared data --------------------------------------------------------------------------

BENCHMARK = {  # file: (N, meas dtype)
    "traffic48_cacti.mat": (6, np.float64),
    "runner40_cacti.mat": (5, np.uint16),
    "drop40_cacti.mat": (5, np.uint16),
}


@pytest.mark.parametrize("name", sorted(BENCHMARK))
def test_benchmark_files_load(shared_data, name):
    n, dtype = BENCHMARK[name]
    cap = load_capture(shared_data / "benchmark" / name)
    assert cap.meas.shape == (n, 256, 256) and cap.meas.dtype == dtype
    assert cap.mask.shape == (8, 256, 256) and cap.mask.dtype == np.uint8
    assert cap.truth.shape == (n, 8, 256, 256) and cap.truth.dtype == np.uint8
    assert cap.scale is Scale.SIM255 and cap.name == name[:-4]
    # The README's identity: meas[k] = sum_b mask_b * orig[8k + b] (exact for integer files).
    k = n - 1
    model = np.einsum("bhw,bhw->hw", cap.mask.astype(np.float64), cap.truth[k].astype(np.float64))
    assert np.max(np.abs(model - cap.meas[k])) < 1e-9
    assert any("235 pixel(s) are never exposed" in note for note in cap.notes)
    # MATLAB H x W x B arrays come back as views (np.moveaxis / reshape), not copies.
    assert not cap.meas.flags.owndata and not cap.mask.flags.owndata and not cap.truth.flags.owndata


def test_every_shared_file_loads(shared_data):
    files = sorted((shared_data / "benchmark").glob("*.mat")) + sorted((shared_data / "real").glob("*.mat"))
    assert len(files) >= 4
    for path in files:
        assert load_capture(path).n_meas >= 1


def test_real_water_balloon_loads_without_mask(shared_data):
    path = shared_data / "real" / "meas_waterBalloon_cr_10.mat"
    cap = load_capture(path)
    assert cap.meas.shape == (1, 512, 512) and cap.meas.dtype == np.uint8
    assert cap.mask is None and cap.truth is None
    assert cap.scale is Scale.REAL_CR
    assert any("No mask" in n and "B = 10" in n for n in cap.notes)
    with pytest.raises(MaskRequiredError, match="needs the calibrated mask"):
        cap.require_mask()


def test_real_capture_with_longer_mask_file(shared_data, tmp_path):
    """real_mask.mat holds 50 frames; the cr10 capture uses the first 10 (B from the file name)."""
    mask = (np.random.default_rng(0).random((512, 512, 50)) < 0.5).astype(np.uint8)
    mask_file = write(tmp_path / "real_mask.mat", {"mask": mask})
    cap = load_capture(shared_data / "real" / "meas_waterBalloon_cr_10.mat", mask_path=mask_file)
    assert cap.mask.shape == (10, 512, 512)
    assert np.array_equal(cap.mask[3], mask[:, :, 3])
    assert cap.mask_source == str(mask_file)
    assert any("first 10 of the 50" in n for n in cap.notes)
    assert frames_from_name(cap.source) == 10 and frames_from_name("traffic48_cacti.mat") is None
    assert load_mask(mask_file, n_frames=10).shape == (10, 512, 512)
    assert load_mask(mask_file).shape == (50, 512, 512)
    # the capture's name as a hint, as the app pairs a mask with a loaded capture
    assert load_mask(mask_file, frames_hint=cap.source).shape == (10, 512, 512)
    short = write(tmp_path / "mask8.mat", {"mask": mask[:, :, :8]})
    assert load_mask(short, frames_hint=cap.source).shape == (8, 512, 512)  # fewer frames: used whole
    paired = load_capture(cap.source, mask_path=short)  # as the CLI does, with a note
    assert paired.mask.shape == (8, 512, 512)
    assert any("B = 10 from the file name" in n and "has 8 frames" in n for n in paired.notes)


# -- round trips ------------------------------------------------------------------------------

def _frames_last(arrays):
    return to_matlab(arrays)


def _frames_first(arrays):
    return {k: (v.reshape(-1, H, W) if v.ndim == 4 else v) for k, v in arrays.items()}


@pytest.mark.parametrize("suffix", [".mat", ".mat73", ".npz", ".h5"])
@pytest.mark.parametrize("layout", ["hwb", "bhw"])
def test_round_trip(tmp_path, suffix, layout):
    ref = sample_arrays(seed=3)
    arrays = _frames_last(ref) if layout == "hwb" else _frames_first(ref)
    path = write(tmp_path / f"cap{suffix}", arrays)
    for lay in ("auto", layout):
        cap = load_capture(path, layout=lay)
        assert cap.meas.shape == (N, H, W) and cap.mask.shape == (B, H, W) and cap.truth.shape == (N, B, H, W)
        assert np.array_equal(cap.meas, ref["meas"])
        assert np.array_equal(cap.mask, ref["mask"])
        assert np.array_equal(cap.truth, ref["orig"])
        assert cap.mask.dtype == np.uint8 and cap.truth.dtype == np.uint8


def test_v73_is_read_in_matlab_order(tmp_path):
    ref = sample_arrays(seed=5)
    path = write_mat73(tmp_path / "v73.mat", to_matlab(ref))
    info = inspect_file(path)
    assert info["format_id"] == "mat73"
    shapes = {v["name"]: v["shape"] for v in info["variables"]}
    assert shapes == {"meas": [H, W, N], "mask": [H, W, B], "orig": [H, W, N * B]}
    assert np.array_equal(load_capture(path).truth, ref["orig"])


@pytest.mark.parametrize("layout", ["hwb", "bhw"])
def test_tiff_measurement_with_separate_mask(tmp_path, layout):
    ref = sample_arrays(seed=4)
    arrays = _frames_last(ref) if layout == "hwb" else _frames_first(ref)
    meas_file = write(tmp_path / "meas.tif", {"a": arrays["meas"]})
    mask_file = write(tmp_path / "mask.tiff", {"a": arrays["mask"]})
    cap = load_capture(meas_file, mask_path=mask_file, layout=layout)
    assert np.array_equal(cap.meas, ref["meas"]) and np.array_equal(cap.mask, ref["mask"])
    assert cap.truth is None
    assert np.array_equal(load_mask(mask_file, layout=layout), ref["mask"])


def test_mask_from_separate_file_overrides_inner_mask(tmp_path):
    ref = sample_arrays(seed=6)
    other = (1 - ref["mask"]).astype(np.float32)
    path = write(tmp_path / "cap.npz", ref)
    mask_file = write(tmp_path / "calib.mat", {"mask": np.moveaxis(other, 0, -1)})
    cap = load_capture(path, mask_path=mask_file, truth_var="")
    assert np.array_equal(cap.mask, other) and cap.truth is None
    assert any("inside cap.npz is ignored" in n for n in cap.notes)


def test_npy_measurement_and_2d_meas(tmp_path):
    ref = sample_arrays(seed=7)
    path = write(tmp_path / "one.npy", {"a": ref["meas"][0]})
    cap = load_capture(path, mask_path=write(tmp_path / "k.npy", {"a": ref["mask"]}))
    assert cap.meas.shape == (1, H, W) and np.array_equal(cap.meas[0], ref["meas"][0])


def test_custom_names_and_aliases(tmp_path):
    ref = sample_arrays(seed=8)
    aliased = write(tmp_path / "alias.npz", {"Y": ref["meas"], "Phi": ref["mask"], "GT": ref["orig"]})
    cap = load_capture(aliased)
    assert cap.has_truth and np.array_equal(cap.mask, ref["mask"])
    named = write(tmp_path / "named.h5", {"snap": ref["meas"], "code3": ref["mask"], "video": ref["orig"]})
    cap = load_capture(named, meas_var="snap", mask_var="code3", truth_var="video")
    assert np.array_equal(cap.truth, ref["orig"])
    cap = load_capture(named, meas_var="SNAP", mask_var="code3")  # case-insensitive, truth not named
    assert cap.truth is None


def test_truth_as_4d_array(tmp_path):
    ref = sample_arrays(seed=9)
    path = write(tmp_path / "t4.npz", ref)  # orig is N x B x H x W already
    assert np.array_equal(load_capture(path).truth, ref["orig"])
    path = write(tmp_path / "t4m.mat", {"meas": to_matlab(ref)["meas"], "mask": to_matlab(ref)["mask"],
                                        "orig": np.transpose(ref["orig"], (2, 3, 1, 0))})  # H W B N
    assert np.array_equal(load_capture(path).truth, ref["orig"])


def test_wrong_extension_still_loads(tmp_path):
    ref = sample_arrays(seed=10)
    npz = write(tmp_path / "cap.npz", ref)
    disguised = npz.rename(tmp_path / "cap.mat")
    cap = load_capture(disguised)
    assert np.array_equal(cap.meas, ref["meas"])
    assert any("extension says '.mat'" in n and "NumPy .npz" in n for n in cap.notes)


def test_calibrated_float_mask_loads_and_reconstructs(tmp_path, real_like):
    from sci_viewer.engine import Job, execute

    path = write(tmp_path / "real_like.npz", {"meas": real_like.meas, "mask": real_like.mask,
                                              "orig": real_like.truth})
    cap = load_capture(path, scale="real_cr")
    assert cap.mask.dtype == np.float32 and len(np.unique(cap.mask)) > 2
    done = execute(Job(cap, "gap-tv", {"iterations": 3}, device="cpu"))
    assert done.reconstruction.shape == (1, 10, 128, 128) and np.isfinite(done.reconstruction).all()


def test_auto_scale_rule(tmp_path):
    ref = sample_arrays()
    assert load_capture(write(tmp_path / "a.npz", ref)).scale is Scale.SIM255  # truth
    no_truth = {"meas": ref["meas"], "mask": ref["mask"]}
    assert load_capture(write(tmp_path / "b.npz", no_truth)).scale is Scale.SIM255  # peaks > 255
    dim = {"meas": (ref["meas"] / 255).astype(np.float32), "mask": ref["mask"]}
    assert load_capture(write(tmp_path / "c.npz", dim)).scale is Scale.UNIT
    u8 = {"meas": np.full((H, W), 200, np.uint8), "mask": ref["mask"]}
    assert load_capture(write(tmp_path / "d.npz", u8)).scale is Scale.REAL_CR
    assert load_capture(write(tmp_path / "e.npz", u8), scale="max").scale is Scale.MAX
    # ground truth stored on [0, 1]: the measurement is a sum of [0, 1] frames, so both are "unit"
    truth = (ref["orig"] / 255).astype(np.float32)
    meas = np.einsum("bhw,nbhw->nhw", ref["mask"].astype(np.float32), truth)
    cap = load_capture(write(tmp_path / "f.npz", {"meas": meas, "mask": ref["mask"], "orig": truth}))
    assert cap.scale is Scale.UNIT
    frames, y = cap.ground_truth(), cap.measurements()
    assert np.allclose(np.einsum("bhw,nbhw->nhw", cap.mask_float(), frames), y, atol=1e-4)  # one scale for both


def test_zero_exposure_pixels_are_valid(tmp_path):
    ref = sample_arrays()
    ref["mask"][:, 5, 5] = 0
    cap = load_capture(write(tmp_path / "dark.npz", ref), truth_var="")
    assert any("never exposed" in n for n in cap.notes)


def test_negative_measurement_is_accepted_and_counted(tmp_path):
    path, meas = negative_measurement(tmp_path / "neg.mat")
    cap = load_capture(path)
    assert np.array_equal(cap.meas, meas)  # kept as it is: no clipping
    d = cap.describe()
    assert d["negative_pixels"] == int(np.count_nonzero(meas < 0)) > 0
    assert d["negative_min"] == float(meas.min()) <= -7.5
    assert any("negative" in n and f"{meas.min():g}" in n for n in d["notes"])
    assert float(cap.measurements().min()) < 0  # the solvers see the negatives too
    clean = load_capture(write(tmp_path / "pos.npz", sample_arrays())).describe()
    assert clean["negative_pixels"] == 0 and clean["negative_min"] is None


def test_size_limit_applies_to_the_total(tmp_path, monkeypatch):
    import sci_viewer.io.formats as formats

    path = write(tmp_path / "cap.npz", sample_arrays())  # 7680 + 1920 + 3840 bytes
    monkeypatch.setattr(formats, "MAX_LOAD_BYTES", 10_000)
    with pytest.raises(CaptureError, match=r"'meas' \(2 x 24 x 20 float64\).*declare in all.*refusing"):
        load_capture(path)
    assert load_capture(path, truth_var="").truth is None  # 9600 bytes: fits


def test_load_mask_checks(tmp_path):
    one = write(tmp_path / "calib.h5", {"weights": np.ones((3, 16, 16))})  # the only array
    assert load_mask(one).shape == (3, 16, 16)
    with pytest.raises(CaptureError, match="n_frames = 5 was asked"):
        load_mask(one, n_frames=5)
    flat = write(tmp_path / "flat.npz", {"mask": np.ones((16, 16))})
    with pytest.raises(CaptureError, match="flat.npz: variable 'mask'.*16 x 16"):
        load_mask(flat)


def test_inspect_file_on_file_that_does_not_load(tmp_path):
    path = write(tmp_path / "odd.mat", {"foo": np.arange(12.0).reshape(3, 4), "bar": np.ones((2, 2, 2))})
    with pytest.raises(CaptureError):
        load_capture(path)
    info = inspect_file(path)
    byname = {v["name"]: v for v in info["variables"]}
    assert byname["foo"]["shape"] == [3, 4] and byname["foo"]["range"] == [0.0, 11.0]
    assert all(v["role"] is None for v in info["variables"])
    assert any("No measurement variable" in n for n in info["notes"])


def test_inspect_shared_file(shared_data):
    info = inspect_file(shared_data / "benchmark" / "traffic48_cacti.mat")
    roles = {v["name"]: v["role"] for v in info["variables"]}
    assert roles == {"meas": "measurement", "mask": "mask", "orig": "ground truth"}


# -- the bad-file corpus ----------------------------------------------------------------------

CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_precise_message(tmp_path, case):
    path, kwargs = make(case, tmp_path)
    with pytest.raises(CaptureError) as err:
        load_capture(path, **kwargs)
    message = str(err.value).lower()
    for fragment in case.expect:
        assert fragment.lower() in message, f"{fragment!r} not in {message!r}"


def test_nested_hdf5_datasets_found_by_name(tmp_path):
    import h5py

    ref = sample_arrays(seed=12)
    path = tmp_path / "nested.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("capture/meas", data=ref["meas"])
        f.create_dataset("calibration/mask", data=ref["mask"])
    cap = load_capture(path)
    assert np.array_equal(cap.mask, ref["mask"]) and cap.truth is None


def test_forced_layout_that_does_not_fit(tmp_path):
    path = write(tmp_path / "m.mat", to_matlab(sample_arrays()))
    with pytest.raises(CaptureError, match="with layout 'bhw'; mask and measurement must"):
        load_capture(path, layout="bhw")


def test_a_mask_saved_as_0_255_is_read_as_binary(tmp_path):
    ref = sample_arrays()
    as_image = dict(ref, mask=ref["mask"] * np.uint8(255))
    cap = load_capture(write(tmp_path / "m255.npz", as_image))
    assert np.array_equal(cap.mask, ref["mask"]) and any("only 0 and 255" in n for n in cap.notes)
    alone = write(tmp_path / "mask255.npz", {"mask": as_image["mask"]})
    assert np.array_equal(load_mask(alone), ref["mask"])
    grey = dict(ref, mask=(ref["mask"] * 200).astype(np.uint8))  # a grey-level mask stays as it is
    assert np.array_equal(load_capture(write(tmp_path / "grey.npz", grey)).mask, grey["mask"])
