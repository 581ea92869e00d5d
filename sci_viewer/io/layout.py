"""Axis layouts: bring measurement, mask and ground truth to N x H x W, B x H x W, N x B x H x W.

Files store 3-D stacks either frames-last (MATLAB, ``H x W x B``) or frames-first (``B x H x W``).
With ``layout="auto"`` every combination is tried and the one where all arrays agree on H x W wins;
ties go to the combination where all arrays share one layout, then to the one where the frame axis
is the short one, then to the format's habit (frames-last for MATLAB files). All results are views
(``np.moveaxis`` / reshape of a split axis): nothing is copied.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sci_viewer.errors import CaptureError
from sci_viewer.io.formats import shape_text

FIRST, LAST = "bhw", "hwb"
_LAYOUT_ALIASES = {
    "auto": None, "": None,
    "bhw": FIRST, "nhw": FIRST, "bxhxw": FIRST, "nxhxw": FIRST, "first": FIRST, "frames-first": FIRST,
    "hwb": LAST, "hwn": LAST, "hxwxb": LAST, "hxwxn": LAST, "last": LAST, "frames-last": LAST,
    "matlab": LAST,
}
LAYOUT_TEXT = {FIRST: "B x H x W (frames first)", LAST: "H x W x B (frames last, MATLAB)"}


def parse_layout(layout: str | None) -> str | None:
    """``'auto'`` -> None, else :data:`FIRST` or :data:`LAST` (several spellings accepted)."""
    key = (layout or "auto").strip().lower().replace(" ", "")
    if key not in _LAYOUT_ALIASES:
        raise CaptureError(
            f"Unknown layout '{layout}': use 'auto', 'bhw' (B x H x W, frames first) or "
            "'hwb' (H x W x B, frames last as in MATLAB)."
        )
    return _LAYOUT_ALIASES[key]


@dataclass(frozen=True)
class Role:
    """One array to arrange: its role ('measurement', 'mask', 'ground truth') and where it came from."""

    role: str
    var: str
    file: str
    array: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.file}: variable '{self.var}'"


def squeeze_extra(r: Role, max_dims: int) -> tuple[np.ndarray, str | None]:
    """Drop singleton axes of an array with more than ``max_dims`` axes (e.g. 1 x N x H x W)."""
    a = r.array
    if a.ndim > max_dims:
        squeezed = np.squeeze(a)
        if 2 <= squeezed.ndim <= max_dims:
            return squeezed, (f"{r.var}: dropped singleton axes, {shape_text(a.shape)} -> "
                              f"{shape_text(squeezed.shape)}")
    return a, None


def _check_dims(r: Role, a: np.ndarray, allowed: tuple[int, ...], expect: str) -> None:
    if a.size == 0:
        raise CaptureError(f"{r.label} ({r.role}) is empty (shape {shape_text(a.shape)}).")
    if a.ndim not in allowed:
        raise CaptureError(
            f"{r.label} ({r.role}) is {a.ndim}-D ({shape_text(a.shape)}); expected {expect}."
        )


def _options(a: np.ndarray, forced: str | None) -> list[str]:
    if a.ndim == 2:
        return ["2d"]
    return [forced] if forced else [FIRST, LAST]


def _hw(a: np.ndarray, opt: str) -> tuple[int, int]:
    if opt == "2d":
        return int(a.shape[0]), int(a.shape[1])
    if a.ndim == 4:
        return (int(a.shape[2]), int(a.shape[3])) if opt == FIRST else (int(a.shape[0]), int(a.shape[1]))
    return (int(a.shape[1]), int(a.shape[2])) if opt == FIRST else (int(a.shape[0]), int(a.shape[1]))


def _count(a: np.ndarray, opt: str) -> int:
    """Frames (or measurements) along the stacking axes."""
    if opt == "2d":
        return 1
    if a.ndim == 4:
        return int(a.shape[0] * a.shape[1])
    return int(a.shape[0] if opt == FIRST else a.shape[2])


def _stack(a: np.ndarray, opt: str) -> np.ndarray:
    """3-D (or 2-D) array -> frames-first stack (view)."""
    if opt == "2d":
        return a[None]
    return a if opt == FIRST else np.moveaxis(a, -1, 0)


def best_single(a: np.ndarray, forced: str | None, default: str) -> str:
    """Layout of a lone 3-D stack: the short axis holds the frames; ties go to ``default``."""
    opts = _options(a, forced)
    if len(opts) == 1:
        return opts[0]
    if a.shape[0] < min(a.shape[1:]):
        return FIRST
    if a.shape[2] < min(a.shape[:2]):
        return LAST
    return default


@dataclass
class Arranged:
    meas: np.ndarray  # (N, H, W)
    mask: np.ndarray | None  # (B, H, W)
    truth: np.ndarray | None  # (N, B, H, W)
    layout: str  # FIRST / LAST / "2d" for the measurement
    notes: list[str]


def arrange(meas: Role, mask: Role | None, truth: Role | None, *, layout: str | None,
            default: str, n_frames: int | None = None, n_frames_hint: tuple[int, str] | None = None
            ) -> Arranged:
    """Bring the three arrays to the capture's layouts; raise :class:`CaptureError` on mismatch.

    ``n_frames``: use the first B mask frames (error when the mask has fewer); ``n_frames_hint``:
    (B, why) from a weaker source such as the file name, applied only to a longer mask.
    """
    notes: list[str] = []
    m, note = squeeze_extra(meas, 3)
    notes += [note] if note else []
    _check_dims(meas, m, (2, 3), "H x W (one measurement), N x H x W or H x W x N")
    k = None
    if mask is not None:
        k, note = squeeze_extra(mask, 3)
        notes += [note] if note else []
        if k.ndim == 2 and k.size:
            raise CaptureError(
                f"{mask.label} (mask) is a single {shape_text(k.shape)} frame; a CACTI mask needs "
                "B >= 2 frames (B x H x W or H x W x B)."
            )
        _check_dims(mask, k, (3,), "B x H x W or H x W x B")
    t = None
    if truth is not None:
        t, note = squeeze_extra(truth, 4)
        notes += [note] if note else []
        _check_dims(truth, t, (2, 3, 4), "frames H x W x (N*B), (N*B) x H x W or N x B x H x W")

    arrays = [m] + ([k] if k is not None else []) + ([t] if t is not None else [])
    option_lists = [_options(a, layout) for a in arrays]
    best, best_score = None, None
    for combo in itertools.product(*option_lists):
        hws = {_hw(a, o) for a, o in zip(arrays, combo)}
        if len(hws) != 1:
            continue
        score = _score(arrays, combo, k is not None, t is not None, default)
        if best_score is None or score > best_score:
            best, best_score = combo, score
    if best is None:
        raise _mismatch(meas, m, mask, k, truth, t, layout, default)

    m_opt = best[0]
    meas3 = _stack(m, m_opt)
    mask3 = _stack(k, best[1]) if k is not None else None
    if mask3 is not None and mask is not None:
        mask3 = trim_frames(mask3, mask, n_frames, n_frames_hint, notes)
    truth4 = None
    if t is not None:
        truth4 = _arrange_truth(truth, t, best[-1], meas3.shape[0], mask3, meas)
    lay = next((o for o in best if o != "2d"), "2d")
    return Arranged(meas3, mask3, truth4, lay, notes)


def trim_frames(mask3: np.ndarray, mask: Role, n_frames: int | None,
                hint: tuple[int, str] | None, notes: list[str]) -> np.ndarray:
    """First ``n_frames`` frames of a (B, H, W) mask (a calibration file may hold more than B)."""
    have = int(mask3.shape[0])
    if n_frames is not None:
        if n_frames < 2 or n_frames > have:
            raise CaptureError(
                f"{mask.label} (mask) has {have} frames; n_frames = {n_frames} was asked for "
                f"(it must be between 2 and {have})."
            )
        if n_frames < have:
            notes.append(f"Using the first {n_frames} of the {have} frames of mask '{mask.var}'.")
        return mask3[:n_frames]
    if hint is not None and 2 <= hint[0] < have:
        notes.append(f"Using the first {hint[0]} of the {have} frames of mask '{mask.var}' "
                     f"(B = {hint[0]} {hint[1]}).")
        return mask3[: hint[0]]
    if hint is not None and hint[0] > have:
        notes.append(f"B = {hint[0]} {hint[1]}, but mask '{mask.var}' has {have} frames: using B = {have}. "
                     "Check that this is the capture's mask.")
    return mask3


def _score(arrays: list[np.ndarray], combo: tuple[str, ...], has_mask: bool, has_truth: bool,
           default: str) -> tuple:
    n = _count(arrays[0], combo[0])
    b = _count(arrays[1], combo[1]) if has_mask else None
    truth_ok = 0
    if has_truth:
        t, ot = arrays[-1], combo[-1]
        if t.ndim == 4:
            nb = (t.shape[0], t.shape[1]) if ot == FIRST else (t.shape[3], t.shape[2])
            truth_ok = int(nb[0] == n and (b is None or nb[1] == b))
        else:
            f = _count(t, ot)
            truth_ok = int(f == n * b if b else f % n == 0)
    layouts = {o for o in combo if o != "2d"}
    short = sum(int(_count(a, o) <= min(_hw(a, o))) for a, o in zip(arrays, combo) if a.ndim == 3)
    return (truth_ok, int(len(layouts) <= 1), short, sum(o == default for o in combo))


def _as_hw_text(a: np.ndarray, opt: str) -> str:
    h, w = _hw(a, opt)
    return f"{h} x {w}"


def _mismatch(meas: Role, m: np.ndarray, mask: Role | None, k: np.ndarray | None, truth: Role | None,
              t: np.ndarray | None, layout: str | None, default: str) -> CaptureError:
    mo = best_single(m, layout, default) if m.ndim == 3 else "2d"
    mhw = _as_hw_text(m, mo)
    order = "frames first" if mo == FIRST else "frames last"
    where = "" if mo == "2d" else f" ({_count(m, mo)} measurement(s), {order})"
    forced = f" with layout '{layout}'" if layout else ""
    if k is not None and mask is not None:
        if not any(_hw(k, o) == _hw(m, mo2) for o in _options(k, layout) for mo2 in _options(m, layout)):
            return CaptureError(
                f"{mask.label} (mask) is {shape_text(k.shape)} but the measurement '{meas.var}' is "
                f"{mhw}{where}{forced}; mask and measurement must have the same height and width."
            )
    assert truth is not None and t is not None
    return CaptureError(
        f"{truth.label} (ground truth) is {shape_text(t.shape)} but the measurement '{meas.var}' is "
        f"{mhw}{where}{forced}; ground-truth frames must have the measurement's height and width."
    )


def _arrange_truth(truth: Role, t: np.ndarray, opt: str, n: int, mask3: np.ndarray | None,
                   meas: Role) -> np.ndarray:
    b = None if mask3 is None else int(mask3.shape[0])
    if t.ndim == 4:
        t4 = t if opt == FIRST else np.transpose(t, (3, 2, 0, 1))
        if t4.shape[0] != n or (b is not None and t4.shape[1] != b):
            raise CaptureError(
                f"{truth.label} (ground truth) is {shape_text(t.shape)}, i.e. {t4.shape[0]} "
                f"measurement(s) x {t4.shape[1]} frames, but the measurement '{meas.var}' has {n} and "
                f"the mask {b if b is not None else 'B'} frames."
            )
        return t4
    frames = _stack(t, opt)
    f = int(frames.shape[0])
    if b is None:
        if f % n:
            raise CaptureError(
                f"{truth.label} (ground truth) has {f} frames, which {n} measurement(s) cannot share "
                "equally (frames must be N x B)."
            )
        b = f // n
    if f != n * b:
        raise CaptureError(_truth_count_message(truth, meas, f, n, b))
    return frames.reshape(n, b, *frames.shape[1:])


def _truth_count_message(truth: Role, meas: Role, f: int, n: int, b: int) -> str:
    need = n * b
    head = (f"{truth.label} (ground truth) has {f} frames, but {n} measurement(s) in '{meas.var}' "
            f"x B = {b} mask frames need exactly {need}")
    if f % b:
        return f"{head}; {f} is not a multiple of B = {b}, so the frames cannot be split into measurements."
    k = f // b
    if f > need:
        times = f" ({f // need} times as many)" if f % need == 0 else ""
        return (f"{head}: it holds {k} measurements' worth of frames{times}, {k - n} more than "
                f"'{meas.var}' has. Crop the ground truth to its first {need} frames, or supply all "
                f"{k} measurements.")
    return (f"{head}: it holds only {k} measurement(s)' worth. Load the file without ground truth "
            "(truth_var=''), or supply ground truth for every measurement.")
