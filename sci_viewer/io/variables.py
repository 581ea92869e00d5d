"""Finding the measurement, mask and ground-truth variables in a file by name or common alias."""

from __future__ import annotations

from pathlib import Path

from sci_viewer.errors import CaptureError
from sci_viewer.io.formats import SINGLE, Reader, VarInfo

#: Accepted names per role, matched case-insensitively, in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "meas": ("meas", "measurement", "measurements", "meas_bayer", "y", "snapshot", "snapshots"),
    "mask": ("mask", "masks", "mask_3d", "mask3d", "phi", "code", "codes", "sensing_matrix"),
    "truth": ("orig", "truth", "gt", "ground_truth", "groundtruth", "orig_frames", "x", "frames"),
}
ROLE_TEXT = {"meas": "measurement", "mask": "mask", "truth": "ground truth"}
ROLE_ARG = {"meas": "meas_var", "mask": "mask_var", "truth": "truth_var"}


def listing(variables: dict[str, VarInfo]) -> str:
    if not variables:
        return "no arrays at all"
    return ", ".join(v.describe() for v in sorted(variables.values(), key=lambda v: v.name.lower()))


def _lookup(variables: dict[str, VarInfo], name: str) -> str | None:
    """Exact name first, then case-insensitive, then an HDF5 dataset whose last path part matches."""
    if name in variables:
        return name
    lowered = {n.lower(): n for n in variables}
    if name.lower() in lowered:
        return lowered[name.lower()]
    tails = [n for n in variables if n.rsplit("/", 1)[-1].lower() == name.lower()]
    return tails[0] if len(tails) == 1 else None


def find(reader: Reader, role: str, name: str | None, *, required: bool,
         exclude: frozenset[str] | set[str] = frozenset()) -> str | None:
    """Name of the ``role`` variable in ``reader``: ``name`` if given, else the first alias present.

    A named variable that is missing, or a required role with no alias present, raises
    :class:`CaptureError` listing what the file does contain.
    """
    variables = reader.variables()
    path: Path = reader.path
    if name:
        found = _lookup(variables, name)
        if found is None:
            raise CaptureError(
                f"{path.name} has no variable '{name}' (asked for as the {ROLE_TEXT[role]}); "
                f"the file has: {listing(variables)}."
            )
        return found
    if SINGLE in variables and len(variables) == 1:  # TIFF / .npy: one array, no names
        if role != "truth" and SINGLE not in exclude:
            return SINGLE
        return None
    for alias in ALIASES[role]:
        found = _lookup(variables, alias)
        if found is not None and found not in exclude:
            return found
    if not required:
        return None
    hint = ""
    if role == "meas" and find(reader, "mask", None, required=False):
        hint = (" It holds a mask but no measurement: open the measurement file and give this file "
                "as its mask.")
    raise CaptureError(
        f"{path.name}: no {ROLE_TEXT[role]} variable found (looked for "
        f"{', '.join(ALIASES[role][:5])} ...); the file has: {listing(variables)}. "
        f"Name the variable with --{ROLE_ARG[role].replace('_', '-')} NAME (Python: {ROLE_ARG[role]}=...).{hint}"
    )
