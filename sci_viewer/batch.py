"""Batch reconstruction: many captures, one output each, a summary; resumable, shardable over ranks.

- :func:`discover` turns files, folders and glob patterns into a sorted list of capture files;
- :func:`output_names` gives each a unique output name in the output folder;
- :func:`run_batch` reconstructs this rank's share (``captures[rank::world]``), skipping those whose
  outputs are complete (the output and its run configuration, both written atomically, the
  configuration last), recording a failing capture with its error and going on;
- :func:`write_summary` writes ``summary.json`` and ``summary.csv`` (rank 0, merged).

The command line is :mod:`sci_viewer.commands.batch`; the process group is :mod:`sci_viewer.ranks`.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from sci_viewer.capture import Capture
from sci_viewer.engine import Event, Job, JobFinished, run_job
from sci_viewer.errors import CaptureError, SciViewerError
from sci_viewer.export import atomic_path, export_video, output_path, save_config_yaml
from sci_viewer.io.formats import EXTENSIONS

#: Suffixes a folder's files must have to be taken as captures.
CAPTURE_SUFFIXES = frozenset(s for suffixes in EXTENSIONS.values() for s in suffixes)
SUMMARY_JSON, SUMMARY_CSV = "summary.json", "summary.csv"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class CaptureRecord:
    """One capture's line in the summary (``mean_psnr``/``mean_ssim`` None without ground truth)."""

    capture: str
    status: str
    rank: int
    mean_psnr: float | None = None
    mean_ssim: float | None = None
    seconds: float | None = None
    output: str | None = None
    error: str | None = None


FIELDS = tuple(f.name for f in dataclasses.fields(CaptureRecord))


def discover(inputs: Sequence[str], exclude: Sequence[str | Path] = ()) -> list[Path]:
    """Capture files named by ``inputs``: a file as given, a folder's files with a capture suffix (not
    its subfolders), a glob pattern's matches (``**`` recursive). Sorted, each file once, ``exclude``
    (e.g. the mask file) left out. An input that names nothing raises :class:`CaptureError`."""
    skip = {Path(p).resolve() for p in exclude}
    found: dict[Path, Path] = {}
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            matches = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CAPTURE_SUFFIXES]
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(text):
            matches = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
        else:
            raise CaptureError(f"'{text}' is not a file, a folder or a glob pattern that matches files.")
        if not matches:
            raise CaptureError(f"'{text}' holds no capture files ({', '.join(sorted(CAPTURE_SUFFIXES))}).")
        for p in matches:
            found.setdefault(p.resolve(), p)
    return sorted((p for key, p in found.items() if key not in skip), key=lambda p: str(p))


def output_names(paths: Sequence[Path]) -> list[str]:
    """A name per capture for its outputs: the file's stem, prefixed by its folders where stems repeat."""
    names = [p.stem for p in paths]
    for depth in range(1, max((len(p.parts) for p in paths), default=1)):
        repeated = {n for n in names if names.count(n) > 1}
        if not repeated:
            break
        names = [("_".join(p.parent.parts[-depth:] + (p.stem,)) if n in repeated else n)
                 for p, n in zip(paths, names)]
    for i, n in enumerate(names):  # still equal (e.g. a.mat and a.npz): number them
        if names.count(n) > 1:
            names[i] = f"{n}_{paths[i].suffix.lstrip('.')}"
    return names


def config_path(written: Path) -> Path:
    """The run configuration beside an export (as ``reconstruct --out`` writes it)."""
    return Path(str(written) + ".yaml")


def is_complete(target: Path) -> bool:
    """True when the export for ``target`` and its run configuration (written last) both exist."""
    written = output_path(target)
    return written.exists() and config_path(written).exists()


def reconstruct_capture(path: Path, target: Path, load: Callable[[Path], Capture], make_job: Callable[[Capture], Job],
                        fps: float = 10.0, on_event: Callable[[Event], None] | None = None) -> JobFinished:
    """Load ``path``, run its job, export to ``target`` with its run configuration; the final event."""
    capture = load(path)
    capture.require_mask()
    final = None
    for event in run_job(make_job(capture)):
        if on_event is not None:
            on_event(event)
        if isinstance(event, JobFinished):
            final = event
    assert final is not None
    written = export_video(target, final.reconstruction, fps=fps, metadata={"config": final.config}, overwrite=True)
    save_config_yaml(config_path(written), final.config)  # last: it marks the output complete
    return final


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, SciViewerError) else f"{type(exc).__name__}: {exc}"


def run_batch(captures: Sequence[Path], names: Sequence[str], out_dir: Path, fmt: str,
              load: Callable[[Path], Capture], make_job: Callable[[Capture], Job], *, rank: int = 0,
              world: int = 1, overwrite: bool = False, fps: float = 10.0,
              previous: dict[str, dict[str, Any]] | None = None,
              on_event: Callable[[Event], None] | None = None) -> Iterator[CaptureRecord]:
    """Reconstruct this rank's share of ``captures``, yielding a record as each is done.

    ``names[i]`` names capture i's output ``out_dir/NAME.fmt``; complete outputs are skipped unless
    ``overwrite`` (their figures come from ``previous``, the last summary's records by output).
    An exception from a capture (an unreadable file, a bad setting, a solver failure) fails that
    capture only; KeyboardInterrupt stops the batch, leaving no partial output.
    """
    previous = previous or {}
    for path, name in list(zip(captures, names))[rank::world]:
        target = out_dir / f"{name}.{fmt.lstrip('.')}"
        written = output_path(target)
        if not overwrite and is_complete(target):
            old = previous.get(written.name, {})
            yield CaptureRecord(str(path), SKIPPED, rank, old.get("mean_psnr"), old.get("mean_ssim"),
                                old.get("seconds"), str(written))
            continue
        t0 = time.perf_counter()
        try:
            report = reconstruct_capture(path, target, load, make_job, fps, on_event).report()
        except Exception as exc:  # noqa: BLE001: recorded, and the batch goes on
            yield CaptureRecord(str(path), FAILED, rank, seconds=time.perf_counter() - t0, error=_error_text(exc))
            continue
        yield CaptureRecord(str(path), OK, rank, report["mean_psnr"], report["mean_ssim"],
                            time.perf_counter() - t0, str(written))


def read_previous(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The last summary's records by output file name ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((out_dir / SUMMARY_JSON).read_text(encoding="utf-8"))
        return {Path(r["output"]).name: r for r in data.get("captures", []) if r.get("output")}
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return {}


def write_summary(out_dir: Path, algo: str, world_size: int, records: Sequence[CaptureRecord],
                  order: Sequence[Path] = ()) -> tuple[Path, Path]:
    """``summary.json`` ({"algo", "world_size", "captures"}) and ``summary.csv`` (one row per capture),
    in ``order`` (the discovered captures) where given; both written atomically."""
    rank_of = {str(p): i for i, p in enumerate(order)}
    rows = sorted(records, key=lambda r: (rank_of.get(r.capture, len(rank_of)), r.capture))
    summary = {"algo": algo, "world_size": world_size, "captures": [dataclasses.asdict(r) for r in rows]}
    json_path, csv_path = out_dir / SUMMARY_JSON, out_dir / SUMMARY_CSV
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(FIELDS)
            for r in rows:
                writer.writerow(["" if v is None else v for v in dataclasses.astuple(r)])
    return json_path, csv_path
