"""``sci-viewer batch``: discovery, resume/skip, failure recording, summary, agreement with
``reconstruct``, and a 2-rank run under torchrun (issue 15, item 3)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sci_viewer.batch import discover, output_names, run_batch
from sci_viewer.cli import main
from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job
from sci_viewer.errors import CaptureError
from sci_viewer.io import load_capture

FAST = ["--algo", "gap-tv", "--iters", "3", "--quiet"]


def _write_capture(path: Path, seed: int) -> Path:
    cap = demo_capture(size=24, n_frames=4, n_meas=2, seed=seed)
    np.savez(path, meas=cap.meas, mask=cap.mask, orig=cap.truth)
    return path


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(["a", "b", "c"]):
        _write_capture(folder / f"{name}.npz", seed=i)
    return folder


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_discover_files_folders_globs(tmp_path: Path, captures: Path) -> None:
    (captures / "notes.txt").write_text("not a capture")
    sub = captures / "sub"
    sub.mkdir()
    _write_capture(sub / "a.npz", seed=5)
    found = discover([str(captures), str(captures / "a.npz"), str(tmp_path / "in" / "**" / "*.npz")],
                     exclude=[captures / "c.npz"])
    assert [p.relative_to(captures).as_posix() for p in found] == ["a.npz", "b.npz", "sub/a.npz"]
    assert output_names(found) == ["in_a", "b", "sub_a"]  # equal stems get their folder
    with pytest.raises(CaptureError, match="not a file, a folder or a glob"):
        discover([str(tmp_path / "missing.npz")])
    with pytest.raises(CaptureError, match="holds no capture files"):
        discover([str(tmp_path / "in" / "*.mat")])


def test_batch_writes_outputs_and_summary_then_resumes(tmp_path: Path, captures: Path) -> None:
    out = tmp_path / "out"
    assert main(["batch", str(captures), "--out-dir", str(out), *FAST]) == 0
    summary = _summary(out)
    assert summary["algo"] == "gap-tv" and summary["world_size"] == 1
    rows = summary["captures"]
    assert [Path(r["capture"]).name for r in rows] == ["a.npz", "b.npz", "c.npz"]
    assert {r["status"] for r in rows} == {"ok"} and {r["rank"] for r in rows} == {0}
    for r in rows:
        assert r["mean_psnr"] > 10 and 0 < r["mean_ssim"] <= 1 and r["seconds"] > 0 and r["error"] is None
        assert Path(r["output"]).is_file() and Path(r["output"] + ".yaml").is_file()
    with open(out / "summary.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [row["capture"] for row in table] == [r["capture"] for r in rows]
    assert [float(row["mean_psnr"]) for row in table] == [r["mean_psnr"] for r in rows]
    assert list(table[0]) == ["capture", "status", "rank", "mean_psnr", "mean_ssim", "seconds", "output", "error"]

    # A re-run skips the complete outputs (not rewritten) and keeps their figures.
    stamps = {r["output"]: os.stat(r["output"]).st_mtime_ns for r in rows}
    os.remove(rows[1]["output"] + ".yaml")  # b's run stopped before its configuration: incomplete
    assert main(["batch", str(captures), "--out-dir", str(out), *FAST]) == 0
    again = _summary(out)["captures"]
    assert [r["status"] for r in again] == ["skipped", "ok", "skipped"]
    assert [r["mean_psnr"] for r in again] == pytest.approx([r["mean_psnr"] for r in rows])
    assert os.stat(rows[0]["output"]).st_mtime_ns == stamps[rows[0]["output"]]
    assert main(["batch", str(captures), "--out-dir", str(out), *FAST, "--overwrite"]) == 0
    assert [r["status"] for r in _summary(out)["captures"]] == ["ok", "ok", "ok"]


def test_a_broken_capture_is_recorded_and_the_batch_goes_on(tmp_path: Path, captures: Path) -> None:
    (captures / "broken.npz").write_bytes(b"this is not an npz archive")
    out = tmp_path / "out"
    assert main(["batch", str(captures / "*.npz"), "--out-dir", str(out), *FAST]) == 1
    rows = {Path(r["capture"]).name: r for r in _summary(out)["captures"]}
    assert rows["broken.npz"]["status"] == "failed" and rows["broken.npz"]["output"] is None
    assert "broken.npz" in rows["broken.npz"]["error"]
    assert [rows[n]["status"] for n in ("a.npz", "b.npz", "c.npz")] == ["ok", "ok", "ok"]
    assert not list(out.glob("broken*"))


def test_interrupted_batch_leaves_no_partial_output_and_resumes(tmp_path: Path, captures: Path) -> None:
    paths = discover([str(captures)])
    out = tmp_path / "out"
    out.mkdir()
    calls = []

    def load(path: Path):
        calls.append(path.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return load_capture(path)

    def make_job(cap) -> Job:
        return Job(cap, "gap-tv", {"iterations": 2})

    done = []
    with pytest.raises(KeyboardInterrupt):
        for record in run_batch(paths, output_names(paths), out, "npz", load, make_job):
            done.append(record)
    assert [r.status for r in done] == ["ok"]
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "a.npz.yaml"]  # nothing partial
    statuses = [r.status for r in run_batch(paths, output_names(paths), out, "npz", load, make_job)]
    assert statuses == ["skipped", "ok", "ok"]


@pytest.mark.parametrize("settings", [
    ["--algo", "gap-tv", "--iters", "4", "--measurements", "1", "--set", "tv_weight=0.2"],
    ["--algo", "de-gap", "--max-iter", "3", "--set", "gap_tv_start=2"],
], ids=["gap-tv", "de-gap"])
def test_batch_psnr_equals_reconstruct(tmp_path: Path, captures: Path, settings: list[str]) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    assert main(["batch", str(captures / "b.npz"), "--out-dir", str(out), "--quiet", *settings]) == 0
    assert main(["reconstruct", str(captures / "b.npz"), "--report", str(report), "--quiet", *settings]) == 0
    batch_psnr = _summary(out)["captures"][0]["mean_psnr"]
    assert batch_psnr == pytest.approx(json.loads(report.read_text())["mean_psnr"], abs=1e-4)


def test_two_ranks_under_torchrun_share_the_captures(tmp_path: Path, captures: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "sci_viewer", "batch", str(captures), "--out-dir", str(out), "--device", "cpu", *FAST],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = _summary(out)
    assert summary["world_size"] == 2
    rows = summary["captures"]
    assert sorted(Path(r["capture"]).name for r in rows) == ["a.npz", "b.npz", "c.npz"]  # each once
    assert {r["rank"] for r in rows} == {0, 1} and {r["status"] for r in rows} == {"ok"}
    assert sorted(p.name for p in out.glob("*.npz")) == ["a.npz", "b.npz", "c.npz"]


def test_world_from_env_and_device_per_rank() -> None:
    from sci_viewer.ranks import device_for, world_from_env

    assert world_from_env({}).world_size == 1 and world_from_env({}).main
    world = world_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (world.rank, world.world_size, world.local_rank, world.main) == (3, 4, 1, False)
    assert device_for(world, "cpu") == "cpu" and device_for(world, "cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match="outside WORLD_SIZE"):
        world_from_env({"WORLD_SIZE": "2", "RANK": "2"})
