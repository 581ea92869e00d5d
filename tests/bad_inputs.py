"""Writers for test files made at test time: good captures in every format and a corpus of bad ones.

Nothing here is data: every file is synthesised into a pytest ``tmp_path``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import scipy.io
import tifffile

N, B, H, W = 2, 4, 24, 20  # non-square on purpose: a transposition error cannot hide


def sample_arrays(seed: int = 0, dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """meas (N,H,W), mask (B,H,W), truth (N,B,H,W) obeying meas = sum_b mask_b * truth_b."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (N, B, H, W)).astype(np.uint8)
    mask = (rng.random((B, H, W)) < 0.5).astype(np.uint8)
    mask[0, 0, 0] = 1
    meas = np.einsum("bhw,nbhw->nhw", mask.astype(np.float64), truth.astype(np.float64)).astype(dtype)
    return {"meas": meas, "mask": mask, "orig": truth}


def to_matlab(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Frames-first arrays -> MATLAB layout: meas H x W x N, mask H x W x B, truth H x W x (N*B)."""
    out = {}
    for name, a in arrays.items():
        if a.ndim == 4:
            a = a.reshape(-1, *a.shape[2:])
        out[name] = np.moveaxis(a, 0, -1) if a.ndim == 3 else a
    return out


_MAT_CLASS = {np.dtype(np.float64): "double", np.dtype(np.float32): "single",
              np.dtype(np.uint8): "uint8", np.dtype(np.uint16): "uint16", np.dtype(np.int16): "int16",
              np.dtype(np.bool_): "logical"}


def write_mat73(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte user block holding the MAT
    header, each array stored transposed (h5py sees MATLAB arrays with their axes reversed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, a in arrays.items():
            ds = f.create_dataset(name, data=np.ascontiguousarray(a.T))
            ds.attrs["MATLAB_class"] = np.bytes_(_MAT_CLASS[a.dtype])
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` in the format of ``path``'s suffix (.mat = v5, .mat73 -> v7.3 as .mat)."""
    suffix = path.suffix
    if suffix == ".mat":
        scipy.io.savemat(path, arrays, do_compression=False)
    elif suffix == ".mat73":
        return write_mat73(path.with_suffix(".mat"), arrays)
    elif suffix == ".npz":
        np.savez(path, **arrays)
    elif suffix in (".h5", ".hdf5"):
        with h5py.File(path, "w") as f:
            for name, a in arrays.items():
                f.create_dataset(name, data=a)
    elif suffix in (".tif", ".tiff"):
        (a,) = arrays.values()
        tifffile.imwrite(path, a, photometric="minisblack")
    elif suffix == ".npy":
        (a,) = arrays.values()
        np.save(path, a)
    else:
        raise ValueError(suffix)
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def huge_mat5(path: Path) -> Path:
    """A v5 .mat whose header declares meas 50000 x 50000 x 8 double (149 GiB) over 64 bytes."""
    scipy.io.savemat(path, {"meas": np.ones((2, 2, 2))}, do_compression=False)
    data = bytearray(path.read_bytes())
    # 128-byte file header, miMATRIX tag (8), array-flags element (16), dims tag (8), dims.
    dims_at = 128 + 8 + 16 + 8
    assert struct.unpack_from("<3i", data, dims_at) == (2, 2, 2)
    struct.pack_into("<3i", data, dims_at, 50000, 50000, 8)
    path.write_bytes(bytes(data))
    return path


def huge_h5(path: Path) -> Path:
    with h5py.File(path, "w") as f:  # chunked, never written: the file stays tiny
        f.create_dataset("meas", shape=(100, 100_000, 100_000), dtype="f8", chunks=(1, 64, 64))
        f.create_dataset("mask", data=np.ones((8, 4, 4)))
    return path


def huge_npy(path: Path) -> Path:
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000, 8)})
    return path


@dataclass
class Bad:
    """One bad input: how to make it, how to load it, what the message must say."""

    name: str
    make: Callable[[Path], Path]
    expect: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    mask_file: Callable[[Path], Path] | None = None


def _arrays(**changes: Any) -> dict[str, np.ndarray]:
    arrays = to_matlab(sample_arrays())
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    return arrays


def _nan_meas() -> np.ndarray:
    m = to_matlab(sample_arrays())["meas"].copy()
    m[3, 4, 1] = np.nan
    return m


def _inf_mask() -> np.ndarray:
    k = to_matlab(sample_arrays())["mask"].astype(np.float32)
    k[0, 0, 0] = np.inf
    return k


def _struct_meas(p: Path) -> Path:
    scipy.io.savemat(p, {"meas": {"a": 1.0, "b": np.ones(3)}, "mask": np.ones((4, 4, 2))})
    return p


def corpus() -> list[Bad]:
    """Bad inputs, each with the words its CaptureError message must contain (lower-case)."""
    good = _arrays()
    return [
        Bad("truncated mat", lambda d: truncate(write(d / "t.mat", good), 0.6),
            ("t.mat", "truncated or corrupt")),
        Bad("truncated h5", lambda d: truncate(write(d / "t.h5", sample_arrays())),
            ("t.h5", "cannot read", "truncated or corrupt")),
        Bad("truncated npz", lambda d: truncate(write(d / "t.npz", sample_arrays())),
            ("t.npz", "cannot read", "truncated or corrupt")),
        Bad("truncated tiff", lambda d: truncate(write(d / "t.tif", {"a": sample_arrays()["meas"]})),
            ("t.tif", "truncated or corrupt")),
        Bad("random bytes", lambda d: _bytes(d / "r.mat", np.random.default_rng(1).bytes(3000)),
            ("r.mat", "not a file sci_viewer can read")),
        Bad("empty file", lambda d: _bytes(d / "e.npz", b""), ("e.npz", "empty")),
        Bad("text with tiff name", lambda d: _bytes(d / "notes.tif", b"hello, this is not a TIFF\n" * 9),
            ("notes.tif", "not a file sci_viewer can read")),
        Bad("no expected variables", lambda d: write(d / "v.mat", {"foo": np.ones((4, 4, 2)),
                                                                    "bar": np.ones(3)}),
            ("v.mat", "no measurement variable", "foo", "bar", "meas_var")),
        Bad("mask file given as capture", lambda d: write(d / "m.mat", {"mask": np.ones((4, 4, 2))}),
            ("m.mat", "no measurement variable", "holds a mask")),
        Bad("named variable missing", lambda d: write(d / "n.mat", good),
            ("n.mat", "no variable 'nope'", "meas", "mask", "orig"), {"meas_var": "nope"}),
        Bad("empty meas", lambda d: write(d / "z.npz", {"meas": np.zeros((0, 5))}), ("'meas'", "empty")),
        Bad("1-D meas", lambda d: write(d / "one.npz", {"meas": np.ones(10)}), ("'meas'", "1-d", "10")),
        Bad("4-D meas", lambda d: write(d / "four.npz", {"meas": np.ones((2, 3, 8, 8))}),
            ("'meas'", "4-d", "2 x 3 x 8 x 8")),
        Bad("4-D mask",
            lambda d: write(d / "k4.npz", {"meas": np.ones((8, 8)), "mask": np.ones((2, 3, 8, 8))}),
            ("'mask'", "4-d")),
        Bad("2-D mask", lambda d: write(d / "k2.npz", {"meas": np.ones((8, 8)), "mask": np.ones((8, 8))}),
            ("'mask'", "single 8 x 8 frame", "b >= 2")),
        Bad("mismatched H x W", lambda d: write(d / "traffic.mat", _arrays(mask=np.ones((16, 16, 4)))),
            ("traffic.mat", "'mask'", "16 x 16 x 4", "measurement 'meas' is 24 x 20",
             "same height and width")),
        Bad("mask from another file mismatched", lambda d: write(d / "c.npz", {"meas": np.ones((2, 24, 20))}),
            ("k.mat", "'mask'", "16 x 16 x 4", "24 x 20"),
            mask_file=lambda d: write(d / "k.mat", {"mask": np.ones((16, 16, 4))})),
        Bad("truth not divisible by B", lambda d: write(d / "d.mat", _arrays(orig=np.ones((24, 20, 13)))),
            ("'orig'", "13 frames", "not a multiple of b = 4")),
        Bad("truth twice too long", lambda d: write(d / "l.mat", _arrays(orig=np.ones((24, 20, 16)))),
            ("'orig'", "16 frames", "need exactly 8", "4 measurements' worth", "2 times as many")),
        Bad("truth too short", lambda d: write(d / "s.mat", _arrays(orig=np.ones((24, 20, 4)))),
            ("'orig'", "4 frames", "need exactly 8", "only 1 measurement")),
        Bad("NaN measurement", lambda d: write(d / "nan.mat", _arrays(meas=_nan_meas())),
            ("nan.mat", "'meas'", "1 nan or infinite")),
        Bad("Inf mask", lambda d: write(d / "inf.npz", {"meas": np.ones((24, 20)), "mask": _inf_mask()}),
            ("inf.npz", "'mask'", "nan or infinite")),
        # A negative measurement is valid (dark-subtracted data): see negative_measurement() and
        # tests/test_loaders.py. A negative mask or ground truth stays refused.
        Bad("negative mask",
            lambda d: write(d / "negk.npz", {"meas": np.ones((24, 20)), "mask": -np.ones((4, 24, 20))}),
            ("negk.npz", "'mask'", "negative", "min -1")),
        Bad("negative ground truth",
            lambda d: write(d / "negt.mat", _arrays(orig=-to_matlab(sample_arrays())["orig"].astype(np.float64))),
            ("negt.mat", "'orig'", "negative")),
        Bad("all-zero mask", lambda d: write(d / "zero.mat", _arrays(mask=np.zeros((24, 20, 4), np.uint8))),
            ("zero.mat", "'mask'", "all zeros")),
        Bad("huge declared v5", lambda d: huge_mat5(d / "huge.mat"),
            ("huge.mat", "'meas'", "50000 x 50000 x 8", "refusing")),
        Bad("huge declared h5", lambda d: huge_h5(d / "huge.h5"),
            ("huge.h5", "'meas'", "100 x 100000 x 100000", "refusing")),
        Bad("huge declared npy", lambda d: huge_npy(d / "huge.npy"),
            ("huge.npy", "100000 x 100000 x 8", "refusing")),
        Bad("string measurement", lambda d: write(d / "str.npz", {"meas": np.array(["a", "b"])}),
            ("str.npz", "'meas'", "not a numeric array")),
        Bad("struct measurement", lambda d: _struct_meas(d / "struct.mat"),
            ("struct.mat", "'meas'", "struct", "not a numeric array")),
        Bad("unknown layout", lambda d: write(d / "lay.npz", {"meas": np.ones((8, 8))}),
            ("unknown layout", "hwb"), {"layout": "sideways"}),
        Bad("unknown scale", lambda d: write(d / "sc.npz", {"meas": np.ones((8, 8))}),
            ("unknown scale", "sim255"), {"scale": "bright"}),
        Bad("missing file", lambda d: d / "absent.mat", ("absent.mat", "no such file")),
    ]


def negative_measurement(path: Path) -> tuple[Path, np.ndarray]:
    """A valid capture whose measurement is dark-subtracted: read noise around a dark level of 20,
    minus that level, leaves negative pixels. Returns the file and the measurement (N, H, W)."""
    arrays = sample_arrays(seed=3)
    rng = np.random.default_rng(3)
    arrays["meas"] = arrays["meas"] * 0.02 + rng.normal(0.0, 4.0, arrays["meas"].shape)
    arrays["meas"][0, 0, 0] = -7.5
    return write(path, to_matlab(arrays)), arrays["meas"]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def make(case: Bad, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Create ``case`` in ``folder``; return the capture path and the loader keyword arguments."""
    path = case.make(folder)
    kwargs = dict(case.kwargs)
    if case.mask_file is not None:
        kwargs["mask_path"] = case.mask_file(folder)
    return path, kwargs
