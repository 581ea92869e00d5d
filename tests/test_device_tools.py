"""tools/device/fit_steps.py: the GPU session's configs are valid and sized to its time budget."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from sci_viewer.training.config import load_config

REPO = Path(__file__).resolve().parents[1]
GPU_CONFIGS = sorted((REPO / "resources" / "train").glob("degap-gpu-*.yaml"))


@pytest.fixture(scope="module")
def fit_steps():
    spec = importlib.util.spec_from_file_location("fit_steps", REPO / "tools" / "device" / "fit_steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_probe_log(folder: Path, per_step: dict[str, float]) -> None:
    folder.mkdir(parents=True)
    t, step, lines = 0.0, 0, []
    for stage, secs in per_step.items():
        for _ in range(2):
            step += 10
            t += 10 * secs
            lines.append(json.dumps({"step": step, "stage": stage, "time_s": t, "loss": 0.1}))
    (folder / "log.jsonl").write_text("\n".join(lines) + "\n")


def test_the_gpu_configs_are_valid_training_configs():
    assert len(GPU_CONFIGS) == 5
    session = (REPO / "tools" / "device" / "session.sh").read_text()
    for name in ("degap-gpu-noise", "degap-gpu-sigma", "degap-gpu-denoiser"):  # what the session trains
        assert name in session
    for path in GPU_CONFIGS:
        cfg = load_config(path)
        assert cfg.pretrain.steps + cfg.deq.steps > 0 and cfg.data.val_scenes  # held-out scenes: selection never on the benchmark


def test_every_config_starts_from_a_file_the_repository_holds():
    """A device machine (and a fresh clone) has no checkpoints/: a start must be a tracked file."""
    for path in sorted((REPO / "resources" / "train").glob("*.yaml")):
        start = load_config(path).init_from
        if start.startswith("resources/"):
            assert (REPO / start).is_file(), (path.name, start)
    for path in GPU_CONFIGS:
        start = load_config(path).init_from
        assert not start or start.startswith("resources/"), (path.name, start)


def test_fit_scales_the_stages_to_the_time_budget(fit_steps, tmp_path):
    src = REPO / "resources" / "train" / "degap-gpu-scratch.yaml"
    fit_steps.probe([src], tmp_path)
    probe = load_config(tmp_path / "degap-gpu-scratch.probe.yaml")
    assert probe.pretrain.steps == probe.deq.steps == fit_steps.PROBE_STEPS
    _fake_probe_log(tmp_path / "degap-gpu-scratch.probe", {"pretrain": 0.01, "deq": 0.1})
    fit_steps.fit([src], tmp_path, seconds=120.0)
    fitted, nominal = load_config(tmp_path / "degap-gpu-scratch.yaml"), load_config(src)
    spent = fitted.pretrain.steps * 0.01 + fitted.deq.steps * 0.1
    assert spent == pytest.approx(120.0, rel=0.01)
    assert fitted.pretrain.steps / fitted.deq.steps == pytest.approx(nominal.pretrain.steps / nominal.deq.steps, rel=0.01)
    assert fitted.val.deq_every_steps == fitted.deq.steps // 8


def test_fit_names_a_failed_probe(fit_steps, tmp_path):
    with pytest.raises(SystemExit, match="probe run failed"):
        fit_steps.fit([GPU_CONFIGS[0]], tmp_path, seconds=60.0)


def test_tiny_configs_for_the_dry_run(fit_steps, tmp_path):
    fit_steps.tiny(GPU_CONFIGS, tmp_path)
    for path in GPU_CONFIGS:
        cfg = load_config(tmp_path / path.name)
        assert cfg.model.kwargs["ch"] == 4 and not cfg.init_from
        assert all(getattr(cfg, stage).crop == 32 for stage in ("pretrain", "deq") if getattr(cfg, stage).steps)
        assert yaml.safe_load(path.read_text())["model"]["kwargs"]["ch"] > 4  # the source is untouched
