"""``sci-viewer bench train-speed``: steps per second of both stages, alone and beside another checkout."""

from __future__ import annotations

import re

import pytest
import yaml

from sci_viewer.cli import main
from sci_viewer.training.data import default_root

TINY = {
    "name": "tiny-speed", "seed": 7, "device": "cpu", "threads": 1,
    "model": {"arch": "unet", "kwargs": {"ch": 4}},
    "data": {"train_scenes": ["libby", "dog"], "val_scenes": ["car-shadow"], "frames": [8], "scales": [1]},
    "pretrain": {"batch": 2, "crop": 32},
    "deq": {"batch": 2, "crop": 32, "max_iter": 5, "tol": 1.0e-12},
    "val": {"size": 32},
}


@pytest.fixture()
def config(shared_data, tmp_path):
    if not default_root().is_dir():
        pytest.skip("DAVIS training frames not present")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_prints_steps_per_second_of_both_stages(config, capsys):
    assert main(["bench", "train-speed", "--config", str(config), "--steps", "2", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    rates = {m[0]: float(m[1]) for m in re.findall(r"^(pretrain|deq)\s+([\d.]+) steps/s", out, re.M)}
    assert set(rates) == {"pretrain", "deq"} and all(r > 0 for r in rates.values())
    assert "mean iterations 5.0, 14.0 sample passes" in out  # (5 solve steps + f(z*) + 1 phantom step) x 2


def test_side_by_side_with_a_baseline_prints_the_ratio(config, capsys):
    from sci_viewer.benchmarks.train_speed import REPO

    assert main(["bench", "train-speed", "--config", str(config), "--stages", "deq", "--steps", "1",
                 "--warmup", "0", "--rounds", "1", "--baseline", str(REPO)]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"round 1 (baseline|this)", out)) == 2
    assert re.search(r"deq\s+speed-up this / baseline: [\d.]+x", out)


def test_a_config_change_timed_against_the_baseline_config(config, tmp_path, capsys):
    """``--baseline . --baseline-config A --config B``: the same code, two configs, side by side."""
    from sci_viewer.benchmarks.train_speed import REPO

    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(dict(TINY, deq=dict(TINY["deq"], max_iter=2))))
    assert main(["bench", "train-speed", "--config", str(other), "--baseline-config", str(config), "--stages", "deq",
                 "--steps", "1", "--warmup", "0", "--rounds", "1", "--baseline", str(REPO)]) == 0
    out = capsys.readouterr().out
    assert f"the baseline times {config}, this code {other}" in out
    assert re.search(r"round 1 baseline .*mean iterations 5\.0", out)
    assert re.search(r"round 1 this .*mean iterations 2\.0", out)
