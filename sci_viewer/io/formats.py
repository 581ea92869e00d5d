"""File formats: recognise a file by its first bytes, list its arrays from headers, read one.

Each reader lists its variables (name, shape, type) *without* reading array data, so sizes can be
checked before anything large is allocated, then reads a single variable on demand. Every failure
of a third-party parser becomes a :class:`~sci_viewer.errors.CaptureError` naming the file.

Arrays are returned in the orientation the file's author saw: MATLAB files (v5 and v7.3) in MATLAB
order (H x W x B for the usual CACTI files), everything else as stored (C order).
"""

from __future__ import annotations

import math
import os
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sci_viewer.errors import CaptureError

#: Largest array (and largest total of the arrays making one capture) a loader will allocate.
#: ``$SCI_MAX_LOAD_BYTES`` overrides it.
MAX_LOAD_BYTES = int(os.environ.get("SCI_MAX_LOAD_BYTES", 4 * 1024**3))

#: Name given to the one array of single-array formats (TIFF, .npy).
SINGLE = "array"

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
FORMAT_NAMES = {
    "mat5": "MATLAB v5 MAT-file",
    "mat73": "MATLAB v7.3 MAT-file (HDF5)",
    "hdf5": "HDF5 file",
    "npz": "NumPy .npz archive",
    "npy": "NumPy .npy array",
    "tiff": "TIFF image stack",
}
#: Extensions each format normally has (for the "wrong extension" note).
EXTENSIONS = {
    "mat5": {".mat"},
    "mat73": {".mat"},
    "hdf5": {".h5", ".hdf5", ".hdf", ".he5", ".mat"},
    "npz": {".npz"},
    "npy": {".npy"},
    "tiff": {".tif", ".tiff"},
}
_MAT_CLASS_ITEMSIZE = {
    "double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4,
    "uint32": 4, "int64": 8, "uint64": 8, "logical": 1,
}


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def shape_text(shape: tuple[int, ...]) -> str:
    """``(256, 256, 8)`` -> ``'256 x 256 x 8'`` (``'empty'`` for ``()``)."""
    return " x ".join(str(s) for s in shape) if shape else "scalar"


@dataclass(frozen=True)
class VarInfo:
    """What a header says about one variable."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name, or the MATLAB class for non-numeric MATLAB variables
    itemsize: int | None  # None when unknown / not an array of numbers
    numeric: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * (self.itemsize or 0)

    def describe(self) -> str:
        return f"{self.name} ({shape_text(self.shape)} {self.dtype})"


def _fail(path: Path, what: str, exc: BaseException) -> CaptureError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return CaptureError(
        f"{path.name}: cannot read {what} ({type(exc).__name__}: {detail}); "
        "the file may be truncated or corrupt."
    )


def detect_format(path: Path) -> str:
    """The format of ``path`` from its first bytes: one of :data:`FORMAT_NAMES`' keys.

    Raises :class:`CaptureError` for missing, empty or unrecognised files.
    """
    try:
        if path.is_dir():
            raise CaptureError(f"{path}: is a folder, not a capture file.")
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise CaptureError(f"{path}: no such file.") from None
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open the file ({exc.strerror or exc}).") from None
    if not head:
        raise CaptureError(f"{path.name}: the file is empty (0 bytes).")
    for offset in (0, 512, 1024, 2048):
        if head[offset : offset + 8] == HDF5_MAGIC:
            return "mat73" if head.startswith(b"MATLAB") else "hdf5"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "npz"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] in TIFF_MAGICS:
        return "tiff"
    if len(head) >= 128 and head[126:128] in (b"IM", b"MI"):
        return "mat5"
    hint = ""
    if path.suffix.lower() == ".mat":
        hint = (" If it is a MATLAB v4 or otherwise old MAT-file, re-save it in MATLAB with "
                "save(..., '-v7') or '-v7.3'.")
    raise CaptureError(
        f"{path.name}: not a file sci_viewer can read: its first bytes ({head[:8]!r}) match no "
        "MATLAB v5/v7.3 .mat, HDF5 (.h5), NumPy (.npz/.npy) or TIFF header." + hint
    )


class Reader(ABC):
    """A file opened for listing and reading its arrays. Use as a context manager."""

    fmt: str = ""
    matlab_order = False  # arrays come back in MATLAB (column-major) axis order

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vars: dict[str, VarInfo] = {}

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES[self.fmt]

    def variables(self) -> dict[str, VarInfo]:
        return dict(self._vars)

    def read(self, name: str, limit: int | None = None) -> np.ndarray:
        """Read variable ``name`` after checking its declared size against ``limit``."""
        info = self._vars[name]
        if not info.numeric:
            raise CaptureError(
                f"{self.path.name}: variable '{name}' is {info.dtype} ({shape_text(info.shape)}), "
                "not a numeric array."
            )
        check_size(self.path, [info], limit)
        try:
            arr = self._read(name)
        except CaptureError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure is a corrupt file to the user
            raise _fail(self.path, f"variable '{name}' as a {self.format_name}", exc) from None
        return np.asarray(arr)

    @abstractmethod
    def _read(self, name: str) -> np.ndarray: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def check_size(path: Path, infos: list[VarInfo], limit: int | None = None) -> None:
    """Refuse arrays whose declared size exceeds ``limit`` (default :data:`MAX_LOAD_BYTES`)."""
    limit = MAX_LOAD_BYTES if limit is None else limit
    total = sum(i.nbytes for i in infos)
    if total > limit:
        what = (f"variable '{infos[0].name}' declares {shape_text(infos[0].shape)} {infos[0].dtype} ="
                if len(infos) == 1 else
                "variables " + ", ".join(f"'{i.name}' ({shape_text(i.shape)} {i.dtype})" for i in infos)
                + " declare in all")
        raise CaptureError(
            f"{path.name}: {what} {human_bytes(total)}, more than the {human_bytes(limit)} a capture "
            "may use; refusing to load it (crop the data, or raise SCI_MAX_LOAD_BYTES)."
        )


class Mat5Reader(Reader):
    fmt = "mat5"
    matlab_order = True

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import scipy.io

        try:
            listing = scipy.io.whosmat(str(path))
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, "the MATLAB v5 variable list", exc) from None
        for name, shape, cls in listing:
            size = _MAT_CLASS_ITEMSIZE.get(cls)
            self._vars[name] = VarInfo(name, tuple(int(s) for s in shape), cls, size, size is not None)

    def _read(self, name: str) -> np.ndarray:
        import scipy.io

        data = scipy.io.loadmat(str(self.path), variable_names=[name], squeeze_me=False)
        if name not in data:
            raise ValueError(f"variable '{name}' listed in the header but not readable")
        return data[name]


class Hdf5Reader(Reader):
    """Plain HDF5, and MATLAB v7.3 (HDF5 with reversed axes: transposed back to MATLAB order)."""

    def __init__(self, path: Path, fmt: str) -> None:
        super().__init__(path)
        import h5py

        self.fmt = fmt
        self._datasets: dict[str, Any] = {}
        self._matlab_vars: set[str] = set()
        try:
            self._file = h5py.File(str(path), "r")
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, f"the {FORMAT_NAMES[fmt]}", exc) from None
        try:
            self._file.visititems(self._visit)
        except Exception as exc:  # noqa: BLE001
            self._file.close()
            raise _fail(path, f"the {FORMAT_NAMES[fmt]} contents", exc) from None
        if fmt == "hdf5" and self._matlab_vars:
            self.fmt = "mat73"  # MATLAB v7.3 data without the MAT-file header text
        self.matlab_order = self.fmt == "mat73"
        if self.matlab_order:
            self._vars = {n: VarInfo(n, i.shape[::-1], i.dtype, i.itemsize, i.numeric)
                          for n, i in self._vars.items()}

    def _visit(self, name: str, obj: Any) -> None:
        import h5py

        if name.startswith("#") or not isinstance(obj, h5py.Dataset):
            return
        mclass = obj.attrs.get("MATLAB_class")
        if isinstance(mclass, bytes):
            mclass = mclass.decode("ascii", "replace")
        dt = obj.dtype
        numeric = dt.kind in "biuf" and mclass not in ("char", "cell", "struct")
        shape = tuple(int(s) for s in obj.shape) if obj.shape is not None else ()
        if obj.attrs.get("MATLAB_empty"):
            shape = (0,)
        if dt.names and {"real", "imag"} <= set(dt.names):
            label = f"complex {mclass or 'numbers'}"
        else:
            label = str(mclass) if (mclass and not numeric) else str(dt)
        self._vars[name] = VarInfo(name, shape, label, dt.itemsize if numeric else None, numeric)
        if mclass is not None:
            self._matlab_vars.add(name)
        self._datasets[name] = obj

    def _read(self, name: str) -> np.ndarray:
        info = self._vars[name]
        if math.prod(info.shape) == 0:
            return np.zeros(info.shape, dtype=info.dtype)
        arr = self._datasets[name][()]
        return arr.T if self.matlab_order else arr

    def close(self) -> None:
        self._file.close()


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _npy_info(name: str, shape: tuple[int, ...], dtype: np.dtype) -> VarInfo:
    numeric = dtype.kind in "biuf"
    return VarInfo(name, shape, str(dtype), dtype.itemsize if numeric else None, numeric)


class NpzReader(Reader):
    fmt = "npz"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    if not member.endswith(".npy"):
                        continue
                    with zf.open(member) as fh:
                        shape, dtype = _npy_header(fh)
                    name = member[:-4]
                    self._vars[name] = _npy_info(name, shape, dtype)
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, "the NumPy .npz archive", exc) from None

    def _read(self, name: str) -> np.ndarray:
        with np.load(str(self.path), allow_pickle=False) as data:
            return data[name]


class NpyReader(Reader):
    fmt = "npy"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            with open(path, "rb") as fh:
                shape, dtype = _npy_header(fh)
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, "the NumPy .npy header", exc) from None
        self._vars[SINGLE] = _npy_info(SINGLE, shape, dtype)

    def _read(self, name: str) -> np.ndarray:
        return np.load(str(self.path), allow_pickle=False)


class TiffReader(Reader):
    """A TIFF holds one array: its first series (pages stacked on the first axis)."""

    fmt = "tiff"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        import tifffile

        try:
            self._tif = tifffile.TiffFile(str(path))
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, "the TIFF file", exc) from None
        try:
            series = self._tif.series[0]
            dtype = np.dtype(series.dtype)
            shape = tuple(int(s) for s in series.shape)
        except Exception as exc:  # noqa: BLE001
            self._tif.close()
            raise _fail(path, "the TIFF image list", exc) from None
        self._vars[SINGLE] = _npy_info(SINGLE, shape, dtype)

    def _read(self, name: str) -> np.ndarray:
        return self._tif.series[0].asarray()

    def close(self) -> None:
        self._tif.close()


def open_reader(path: Path | str) -> Reader:
    """Open ``path`` with the reader its content calls for."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "mat5":
        return Mat5Reader(path)
    if fmt in ("mat73", "hdf5"):
        return Hdf5Reader(path, fmt)
    if fmt == "npz":
        return NpzReader(path)
    if fmt == "npy":
        return NpyReader(path)
    return TiffReader(path)
