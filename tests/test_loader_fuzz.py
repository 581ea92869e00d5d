"""Property tests: whatever bytes or arrays a file holds, loaders raise nothing but CaptureError."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bad_inputs import sample_arrays, to_matlab, write
from sci_viewer.capture import Capture
from sci_viewer.errors import CaptureError
from sci_viewer.io import inspect_file, load_capture, load_mask

FUZZ = settings(max_examples=int(os.environ.get("SCI_FUZZ_EXAMPLES", 40)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUFFIXES = [".mat", ".npz", ".npy", ".h5", ".tif", ".bin", ""]
MAGICS = [b"\x89HDF\r\n\x1a\n", b"PK\x03\x04", b"\x93NUMPY", b"II*\x00", b"MM\x00*",
          b"MATLAB 5.0 MAT-file".ljust(124, b" ") + b"\x00\x01IM"]


def _attempt(path: Path, **kwargs) -> None:
    """Every loader entry point either succeeds or raises CaptureError (pytest fails on others)."""
    for call in (lambda: load_capture(path, **kwargs), lambda: load_mask(path), lambda: inspect_file(path)):
        try:
            result = call()
        except CaptureError as exc:
            assert str(exc)  # a message for the operator, never empty
        else:
            if isinstance(result, Capture):
                assert result.meas.ndim == 3


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzz{suffix}"
        path.write_bytes(data)
        _attempt(path)


@FUZZ
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=1024), suffix=st.sampled_from(SUFFIXES))
def test_valid_magic_with_garbage(magic, tail, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzz{suffix}"
        path.write_bytes(magic + tail)
        _attempt(path)


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    arrays = sample_arrays(seed=11)
    return [
        write(folder / "g.mat", to_matlab(arrays)).read_bytes(),
        write(folder / "g.npz", arrays).read_bytes(),
        write(folder / "g.tif", {"a": arrays["meas"]}).read_bytes(),
        write(folder / "g.h5", arrays).read_bytes(),
    ]


@FUZZ
@given(which=st.integers(0, 3), cut=st.floats(0, 1), flips=st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8))
def test_damaged_good_files(good_files, which, cut, flips):
    data = bytearray(good_files[which])
    for where, value in flips:
        data[int(where * len(data))] = value
    data = data[: max(1, int(cut * len(data)))] if cut < 1 else data
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ["g.mat", "g.npz", "g.tif", "g.h5"][which]
        path.write_bytes(bytes(data))
        _attempt(path)


_dtypes = st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64, np.bool_])
_arrays = hnp.arrays(
    dtype=_dtypes,
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    elements=None,
)


@FUZZ
@given(meas=_arrays, mask=st.none() | _arrays, truth=st.none() | _arrays,
       layout=st.sampled_from(["auto", "hwb", "bhw"]))
def test_random_arrays(meas, mask, truth, layout):
    arrays = {"meas": meas}
    if mask is not None:
        arrays["mask"] = mask
    if truth is not None:
        arrays["orig"] = truth
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "arrays.npz"
        np.savez(path, **arrays)
        try:
            cap = load_capture(path, layout=layout)
        except CaptureError as exc:
            assert "arrays" in str(exc) or "layout" in str(exc).lower()
        else:
            assert cap.meas.ndim == 3
            if cap.mask is not None:
                assert cap.mask.shape[1:] == cap.meas.shape[1:]


@FUZZ
@given(meas=hnp.arrays(np.float32, (2, 5, 4), elements=st.floats(-1e3, 1e3, width=32)))
def test_any_finite_measurement_loads_with_its_negatives_counted(meas):
    """Negative measurement values are valid data (dark subtraction, read noise): never refused."""
    mask = np.ones((3, 5, 4), np.uint8)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "neg.npz"
        np.savez(path, meas=meas, mask=mask)
        d_ = load_capture(path).describe()
    assert d_["negative_pixels"] == int(np.count_nonzero(meas < 0))
    assert d_["negative_min"] == (float(meas.min()) if (meas < 0).any() else None)
