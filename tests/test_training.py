"""Training: smoke run + resume through the CLI, held-out scenes, determinism, DEQ gradients."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from sci_viewer.cli import main
from sci_viewer.training.config import config_from_dict, load_config
from sci_viewer.training.data import VideoSampler, default_root, split_scenes
from sci_viewer.training.config import DeqConfig
from sci_viewer.training.fixed_point import equilibrium

TINY = {
    "name": "tiny", "seed": 7, "device": "cpu",
    "model": {"arch": "unet", "kwargs": {"ch": 4}},
    "data": {"train_scenes": ["libby", "dog"], "val_scenes": ["car-shadow"], "frames": [8], "scales": [1]},
    "pretrain": {"steps": 2, "batch": 1, "crop": 32},
    "deq": {"steps": 1, "batch": 1, "crop": 32, "max_iter": 4},
    "val": {"every_steps": 0, "size": 32, "max_iter": 3},
}


@pytest.fixture()
def davis(shared_data):
    root = default_root()
    if not root.is_dir():
        pytest.skip("DAVIS training frames not present")
    return root


def _write(tmp_path, cfg):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_smoke_run_and_resume(tmp_path, davis):
    cfg_path = _write(tmp_path, TINY)
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--quiet", "--max-steps", "2"]) == 0
    assert (out / "last.pt").exists()
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 2
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--quiet", "--resume"]) == 0
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["step"] == 3 and state["opt_stage"] == "deq"
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("val_psnr" in r for r in records) and records[-1]["step"] == 3
    assert (out / "deq_final.pt").exists() and (out / "pretrain_final.pt").exists()
    from sci_viewer.models import load_model

    net = load_model(str(out / "deq_final.pt"))
    assert net.model_meta["val_scenes"] == ["car-shadow"]


def test_held_out_scenes_never_trained_on(davis):
    train, val = split_scenes(davis, ["bmx-trees", "kite-surf"], [])
    assert "bmx-trees" not in train and "kite-surf" not in train and len(train) == 18
    train2, _ = split_scenes(davis, ["dog"], ["dog", "libby"])
    assert train2 == ["libby"]
    sampler = VideoSampler(davis, train2, [1, 2], [1, 2])
    assert sampler.scenes == ["libby"]
    cfg = load_config("resources/train/degap-default.yaml")
    assert not {"traffic", "runner", "drop"} & set(cfg.data.train_scenes)


def test_same_seed_same_first_loss(tmp_path, davis):
    from sci_viewer.training.loop import Trainer

    losses = []
    for k in range(2):
        trainer = Trainer(config_from_dict(TINY), tmp_path / f"r{k}", quiet=True)
        trainer.run(max_steps=1)
        losses.append(trainer.first_loss)
    assert losses[0] == losses[1]


def test_sampler_shapes_and_range(davis):
    sampler = VideoSampler(davis, ["libby"], [1, 2], [1, 2])
    x = sampler.sample(np.random.default_rng(0), 3, 10, 40)
    assert x.shape == (3, 10, 40, 40) and 0 <= float(x.min()) and float(x.max()) <= 1


def test_unknown_config_key_refused():
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match="Unknown key"):
        config_from_dict({"pretrain": {"stepz": 3}})


@pytest.mark.parametrize("bad, named", [
    ({"deq": {"lr": "abc"}}, "deq.lr"), ({"data": {"frames": [8, "x"]}}, "data.frames"),
    ({"val": {"masks": "iid"}}, "val.masks"), ({"seed": 1.5}, "seed"), ({"init_grow": "yes"}, "init_grow"),
    ({"data": {"translating": float("nan")}}, "data.translating"),
])
def test_config_values_of_the_wrong_type_are_named(bad, named):
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match=named.replace(".", r"\.")):
        config_from_dict(bad)


def test_unknown_backward_and_bad_anderson_settings_refused():
    from sci_viewer.errors import JobError

    for backward in ("phantom", "jfb", "neumann", "implicit"):
        assert config_from_dict({"deq": {"backward": backward}}).deq.backward == backward
    with pytest.raises(JobError, match="backward"):
        config_from_dict({"deq": {"backward": "exact"}})
    with pytest.raises(JobError, match="beta"):
        config_from_dict({"deq": {"beta": 0}})


def _linear_map(a: torch.Tensor, c: torch.Tensor):
    return lambda x: x @ a.T + c


@pytest.mark.parametrize("backward, k, d, factor", [
    ("implicit", 2, 0.5, None),   # exact: w (I - A)^-1
    ("neumann", 2, 0.5, None),    # 80 terms of 0.5-contraction: exact to float precision
    ("jfb", 2, 0.5, 1.0),         # Jacobian-free: the identity in place of (I - A)^-1
    ("phantom", 1, 0.5, 1.0),     # phantom_k = 1 is jfb
    ("phantom", 2, 0.5, 0.5),     # only the last damped step carries a gradient (the shipped model's)
])
def test_deq_gradients_on_a_linear_map(backward, k, d, factor):
    torch.manual_seed(0)
    a = torch.randn(5, 5)
    a = 0.5 * a / torch.linalg.matrix_norm(a, ord=2)
    c = torch.randn(1, 5, requires_grad=True)
    dc = DeqConfig(tol=1e-7, max_iter=100, backward=backward, implicit_iters=80, phantom_k=k, phantom_damping=d)
    eq = equilibrium(_linear_map(a, c), torch.zeros(1, 5), dc)
    exact = torch.linalg.solve(torch.eye(5) - a, c.detach().T).T
    assert eq.info.converged and torch.allclose(eq.z_star, exact, atol=1e-5)
    assert torch.allclose(eq.z.detach(), exact, atol=1e-5) and not eq.z_star.requires_grad
    w = torch.randn(1, 5)
    (eq.z * w).sum().backward()
    # z* = (I - A)^-1 c  =>  d(w.z*)/dc = w (I - A)^-1
    expected = w @ torch.linalg.inv(torch.eye(5) - a) if factor is None else factor * w
    assert torch.allclose(c.grad, expected, atol=1e-4), (c.grad, expected)


def test_deq_training_step_per_backward_changes_weights(tmp_path, davis):
    """One DEQ step with each backward mode runs and moves the weights, with the mode's gradient."""
    from sci_viewer.training.loop import Trainer

    grads = {}
    for backward in ("phantom", "jfb", "neumann", "implicit"):
        cfg = dict(TINY, pretrain={"steps": 0}, deq=dict(TINY["deq"], backward=backward, implicit_iters=4),
                   val={"every_steps": 0, "deq_every_steps": 0})
        trainer = Trainer(config_from_dict(cfg), tmp_path / backward, quiet=True)
        before = [p.detach().clone() for p in trainer.net.parameters()]
        record = trainer.run(max_steps=1)
        assert record["stage"] == "deq" and record["step"] == 1 and np.isfinite(record["loss"])
        after = list(trainer.net.parameters())
        assert all(torch.isfinite(p).all() for p in after)
        assert any(not torch.equal(p.detach(), q) for p, q in zip(after, before)), backward
        grads[backward] = torch.cat([p.grad.flatten() for p in after])  # the step's (clipped) gradient
    # same seed, same batch: phantom (k=2, damping 0.5) is half of jfb's gradient at the fixed point;
    # the implicit and Neumann hooks rewrite it
    assert torch.allclose(grads["phantom"], 0.5 * grads["jfb"], rtol=1e-3, atol=1e-6)
    assert not torch.allclose(grads["implicit"], grads["jfb"], rtol=1e-2)
    assert not torch.allclose(grads["neumann"], grads["jfb"], rtol=1e-2)


def test_start_line_gives_the_parameter_count(tmp_path, davis, capsys):
    from sci_viewer.models import build_denoiser

    cfg_path = _write(tmp_path, TINY)
    assert main(["train", "--config", str(cfg_path), "--out", str(tmp_path / "run"), "--max-steps", "0"]) == 0
    params = sum(p.numel() for p in build_denoiser("unet", ch=4).parameters())
    assert f"'tiny' ({params:,} parameters)" in capsys.readouterr().out


def test_threads_option_overrides_the_config(tmp_path, davis, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    cfg_path = _write(tmp_path, dict(TINY, threads=1))
    assert main(["train", "--config", str(cfg_path), "--out", str(tmp_path / "a"), "--quiet", "--max-steps", "0"]) == 0
    assert calls == [1]
    assert main(["train", "--config", str(cfg_path), "--out", str(tmp_path / "b"), "--quiet", "--max-steps", "0",
                 "--threads", "3"]) == 0
    assert calls == [1, 3]
    with pytest.raises(SystemExit):
        main(["train", "--config", str(cfg_path), "--out", str(tmp_path / "c"), "--threads", "-1"])


def test_missing_init_from_file_is_named(tmp_path, davis):
    cfg_path = _write(tmp_path, dict(TINY, init_from=str(tmp_path / "nowhere.pt")))
    assert main(["train", "--config", str(cfg_path), "--out", str(tmp_path / "run"), "--quiet"]) == 2


def test_export_from_run_folder(tmp_path, davis):
    cfg_path = _write(tmp_path, dict(TINY, val={"every_steps": 1, "size": 32, "max_iter": 3}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--quiet", "--max-steps", "1"]) == 0
    dest = tmp_path / "models" / "exported.pt"
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--export", str(dest)]) == 0
    from sci_viewer.models import list_models

    (info,) = list_models(dest.parent)
    assert info.arch == "unet" and info.meta["exported_from"] == "run/best.pt"
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--export", str(dest), "--pick", "nope"]) == 2


def test_init_from_model_file(tmp_path, davis):
    from sci_viewer.models import build_denoiser, save_model
    from sci_viewer.training.loop import Trainer

    net = build_denoiser("unet", ch=4)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.01)
    path = save_model(net, tmp_path / "start.pt", "unet", {"ch": 4})
    trainer = Trainer(config_from_dict(dict(TINY, init_from=str(path))), tmp_path / "r", quiet=True)
    for a, b in zip(trainer.net.state_dict().values(), net.state_dict().values()):
        assert torch.equal(a, b)
    save_model(build_denoiser("unet", ch=8), tmp_path / "other.pt", "unet", {"ch": 8})
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match="init_from"):
        Trainer(config_from_dict(dict(TINY, init_from=str(tmp_path / "other.pt"))), tmp_path / "r2", quiet=True)


def test_init_grow_starts_a_deeper_net_that_computes_the_same(tmp_path, davis):
    from sci_viewer.errors import JobError
    from sci_viewer.models import build_denoiser, save_model
    from sci_viewer.training.loop import Trainer

    small = build_denoiser("unet", ch=4, mid_blocks=1)
    for p in small.parameters():
        torch.nn.init.normal_(p, std=0.1)
    path = save_model(small, tmp_path / "small.pt", "unet", {"ch": 4, "mid_blocks": 1})
    deeper = dict(TINY, init_from=str(path), init_grow=True,
                  model={"arch": "unet", "kwargs": {"ch": 4, "blocks": 2, "mid_blocks": 3}})
    trainer = Trainer(config_from_dict(deeper), tmp_path / "r", quiet=True)
    x = torch.rand(1, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(trainer.net.eval()(x), small.eval()(x), atol=1e-6)
        assert trainer.net.mid[2].conv1.weight.abs().sum() > 0   # new blocks can learn
    wider = dict(deeper, model={"arch": "unet", "kwargs": {"ch": 8, "mid_blocks": 3}})
    with pytest.raises(JobError, match="does not fit"):
        Trainer(config_from_dict(wider), tmp_path / "r2", quiet=True)
    with pytest.raises(JobError, match="init_from"):
        Trainer(config_from_dict(dict(deeper, init_grow=False)), tmp_path / "r3", quiet=True)


def test_a_mask_aware_net_grows_from_a_mask_blind_one_and_trains(tmp_path, davis):
    from sci_viewer.models import build_denoiser, load_model, save_model
    from sci_viewer.training.loop import Trainer

    blind = build_denoiser("unet", ch=4)
    path = save_model(blind, tmp_path / "blind.pt", "unet", {"ch": 4})
    cfg = dict(TINY, init_from=str(path), init_grow=True,
               model={"arch": "unet", "kwargs": {"ch": 4, "mask_input": True}})
    trainer = Trainer(config_from_dict(cfg), tmp_path / "r", quiet=True)
    head = trainer.net.head.weight
    assert head.shape[1] == 8 and torch.equal(head[:, 4:], torch.zeros_like(head[:, 4:]))
    trainer.run()   # pretraining and DEQ steps both hand the net its weights
    assert trainer.net.head.weight[:, 4:].abs().sum() > 0
    net = load_model(str(trainer.export(tmp_path / "aware.pt")))
    assert net.uses_mask


def test_jacobian_penalty_estimates_the_frobenius_norm_and_is_differentiable():
    from sci_viewer.training.losses import jacobian_penalty

    torch.manual_seed(0)
    m = torch.randn(6, 6, requires_grad=True)
    z = torch.randn(1, 6)
    estimates = torch.stack([jacobian_penalty(lambda x: x @ m.T, z) for _ in range(4000)])
    assert float(estimates.detach().mean()) == pytest.approx(float(m.detach().pow(2).sum() / 6), rel=0.05)
    estimates[:10].mean().backward()
    assert m.grad is not None and m.grad.abs().sum() > 0


def test_deq_step_with_jacobian_penalty_logs_it(tmp_path, davis):
    from sci_viewer.training.loop import Trainer

    cfg = dict(TINY, pretrain={"steps": 0}, deq=dict(TINY["deq"], jacobian_weight=0.5),
               val={"every_steps": 0, "deq_every_steps": 0})
    record = Trainer(config_from_dict(cfg), tmp_path / "jac", quiet=True).run(max_steps=1)
    assert record["jac"] > 0 and np.isfinite(record["loss"])


def test_deq_clip_keeps_the_training_map_in_range(tmp_path, davis):
    from sci_viewer.training.loop import Trainer
    from sci_viewer.training.sim import BatchCacti

    for clip in (False, True):
        cfg = dict(TINY, deq=dict(TINY["deq"], clip=clip))
        trainer = Trainer(config_from_dict(cfg), tmp_path / str(clip), quiet=True)
        op = BatchCacti(torch.ones(1, 8, 16, 16))
        y = torch.full((1, 16, 16), 16.0)  # 8 frames of 2.0: the projection leaves [0, 1]
        out = trainer._map(op, y)(torch.zeros(1, 8, 16, 16))
        assert (float(out.detach().max()) <= 1.0) == clip


def test_translating_masks_move_one_pixel_per_frame_in_every_direction():
    from sci_viewer.training.sim import random_masks, translating_mask

    rng = np.random.default_rng(3)
    directions = set()
    for _ in range(40):
        m = translating_mask(rng, 8, 20, 24, 0.5)
        assert m.shape == (8, 20, 24) and 0.35 < m.mean() < 0.65
        shifts = {(dy, dx) for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
                  if all(np.array_equal(np.roll(m[k], (dy, dx), (0, 1))[2:-2, 2:-2], m[k + 1][2:-2, 2:-2])
                         for k in range(7))}
        assert len(shifts) == 1   # one direction, the same from every frame to the next
        directions |= shifts
    assert len(directions) == 4
    # without translating masks the draws are those of earlier releases, seed for seed
    old = np.random.default_rng(5)
    p = old.uniform(0.4, 0.6, size=(3, 1, 1, 1))
    expected = torch.from_numpy((old.random((3, 8, 16, 16)) < p).astype(np.float32))
    assert torch.equal(random_masks(np.random.default_rng(5), 3, 8, 16, 16, (0.4, 0.6)), expected)
    mixed = random_masks(np.random.default_rng(5), 200, 4, 8, 8, (0.5, 0.5), translating=0.5)
    moving = [bool((mixed[i, 1, :, 1:] == mixed[i, 0, :, :-1]).all() or (mixed[i, 1, :, :-1] == mixed[i, 0, :, 1:]).all()
                   or (mixed[i, 1, 1:] == mixed[i, 0, :-1]).all() or (mixed[i, 1, :-1] == mixed[i, 0, 1:]).all())
              for i in range(200)]
    assert 70 < sum(moving) < 130


@pytest.mark.parametrize("name", ["traffic48_cacti.mat", "runner40_cacti.mat", "drop40_cacti.mat"])
def test_benchmark_masks_are_translating_masks(shared_data, name):
    """What the model card says of the benchmark: frame k's mask is frame 0's moved k pixels."""
    from sci_viewer.io import load_capture

    mask = load_capture(shared_data / "benchmark" / name).mask
    for k in range(1, mask.shape[0]):
        assert np.array_equal(np.roll(mask[0], k, axis=1)[:, k:], mask[k][:, k:])


def test_validation_on_both_mask_kinds(tmp_path, davis):
    from sci_viewer.errors import JobError
    from sci_viewer.training.loop import Trainer

    cfg = dict(TINY, data=dict(TINY["data"], translating=0.5), val=dict(TINY["val"], masks=["iid", "translating"]))
    val = Trainer(config_from_dict(cfg), tmp_path / "r", quiet=True).validate()
    assert val["val_psnr"] == pytest.approx((val["val_psnr_iid"] + val["val_psnr_translating"]) / 2)
    assert val["val_psnr_iid"] != val["val_psnr_translating"]
    with pytest.raises(JobError, match="val.masks"):
        config_from_dict(dict(TINY, val=dict(TINY["val"], masks=["shifted"])))
    with pytest.raises(JobError, match="data.translating"):
        config_from_dict(dict(TINY, data=dict(TINY["data"], translating=1.5)))


def test_a_run_folder_is_not_overwritten_without_resume(tmp_path, davis, capsys):
    cfg_path = _write(tmp_path, TINY)
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--quiet", "--max-steps", "2"]) == 0
    assert main(["train", "--config", str(cfg_path), "--out", str(out), "--quiet", "--max-steps", "1"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 2  # untouched


def test_resuming_with_another_model_is_refused_by_name(tmp_path, davis, capsys):
    out = tmp_path / "run"
    assert main(["train", "--config", str(_write(tmp_path, TINY)), "--out", str(out), "--quiet",
                 "--max-steps", "1"]) == 0
    wider = dict(TINY, model={"arch": "unet", "kwargs": {"ch": 8}})
    assert main(["train", "--config", str(_write(tmp_path, wider)), "--out", str(out), "--quiet", "--resume"]) == 2
    assert "was trained as a unet {'ch': 4}" in capsys.readouterr().err


def test_a_signal_stops_training_at_a_saved_step(tmp_path, davis):
    import signal

    from sci_viewer.training.loop import Trainer

    trainer = Trainer(config_from_dict(TINY), tmp_path / "run", quiet=True)
    original = trainer._pretrain_step

    def step_then_interrupt():
        stats = original()
        signal.raise_signal(signal.SIGINT)  # Ctrl-C after the first step
        return stats

    trainer._pretrain_step = step_then_interrupt
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where pytest runs in a background job
    trainer.run()
    assert trainer.interrupted and trainer.step == 1
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 1
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_export_adds_the_model_extension(tmp_path, davis):
    out = tmp_path / "run"
    assert main(["train", "--config", str(_write(tmp_path, TINY)), "--out", str(out), "--quiet"]) == 0
    assert main(["train", "--config", str(_write(tmp_path, TINY)), "--out", str(out),
                 "--export", str(tmp_path / "mine"), "--pick", "deq_final"]) == 0
    assert (tmp_path / "mine.pt").exists()


def test_export_last_checkpoint_gives_its_latest_weights(tmp_path, davis):
    """``--pick last``: the weights of last.pt (the latest step), not the validation-best ones."""
    from sci_viewer.models import load_model
    from sci_viewer.training.checkpoint import load_checkpoint

    out = tmp_path / "run"
    assert main(["train", "--config", str(_write(tmp_path, TINY)), "--out", str(out), "--quiet"]) == 0
    assert main(["train", "--config", str(_write(tmp_path, TINY)), "--out", str(out),
                 "--export", str(tmp_path / "latest.pt"), "--pick", "last"]) == 0
    st = load_checkpoint(out / "last.pt")
    net = load_model(tmp_path / "latest.pt")
    assert net.model_meta["step"] == st["step"] > 0 and net.model_meta["exported_from"] == "run/last.pt"
    for name, value in net.state_dict().items():
        assert torch.equal(value, st["model"][name]), name


@pytest.mark.parametrize("content", ["junk", "model file"])
def test_a_last_pt_that_is_no_checkpoint_is_named_on_export_and_resume(tmp_path, davis, capsys, content):
    """An unreadable last.pt, or a model file put there, is refused by name; nothing is written."""
    import shutil

    from sci_viewer.errors import JobError
    from sci_viewer.models import find_model
    from sci_viewer.training.loop import Trainer

    out = tmp_path / "run"
    out.mkdir()
    if content == "junk":
        (out / "last.pt").write_text("junk")
    else:
        shutil.copy(find_model("degap-default")[0], out / "last.pt")
    cfg_path = _write(tmp_path, TINY)
    assert main(["train", "--config", str(cfg_path), "--out", str(out),
                 "--export", str(tmp_path / "x.pt"), "--pick", "last"]) == 2
    assert "last.pt" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()
    with pytest.raises(JobError, match="training checkpoint"):
        Trainer(load_config(cfg_path), out, device="cpu", resume=True, quiet=True)


def test_per_sample_forward_solve_stops_each_sample_at_its_tol_and_matches_one_sample_solves():
    from sci_viewer.solvers import AndersonSettings, anderson
    from sci_viewer.training.forward_solve import solve_per_sample

    # x = A_i x + c_i per sample, contractions of different strength: different iteration counts
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([0.1, 0.6, 0.3]).view(3, 1, 1)
    a = scales * torch.linalg.qr(torch.randn(3, 6, 6, generator=g))[0]
    c = torch.randn(3, 6, 1, generator=g)
    calls = []

    def restrict(rows):
        def f(x):
            calls.append(x.shape[0])
            return (a[rows] @ x.unsqueeze(-1) + c[rows]).squeeze(-1)
        return f

    x0 = torch.zeros(3, 6)
    z, info = solve_per_sample(restrict(torch.arange(3)), restrict, x0, AndersonSettings(2, 1.0, 1e-4), 1e-6, 50)
    assert info.converged and info.residuals.shape == (info.iterations, 3) and max(info.final_residual) <= 1e-6
    assert calls[0] == 3 and calls[-1] == 1  # the batch shrank as samples converged
    for i in range(3):
        one, one_info = anderson(restrict(torch.tensor([i])), x0[i : i + 1], m=2, lam=1e-4, tol=1e-6, max_iter=50)
        assert torch.allclose(z[i], one[0], atol=1e-6)
        assert int((info.residuals[:, i] > 1e-6).sum()) + 1 == one_info.iterations  # stopped at its own step


def test_bf16_autocast_trains_both_stages(tmp_path, davis):
    """``autocast: true`` runs the network in bf16 (CPU autocast here): finite, and not the float32 numbers."""
    from sci_viewer.training.loop import Trainer

    losses = {}
    for amp in (False, True):
        trainer = Trainer(config_from_dict(dict(TINY, autocast=amp)), tmp_path / str(amp), quiet=True)
        trainer._make_opt("pretrain")
        pre = trainer._pretrain_step()
        trainer._make_opt("deq")
        deq = trainer._deq_step()
        assert np.isfinite(pre["loss"]) and np.isfinite(deq["loss"])
        assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in trainer.net.parameters())
        losses[amp] = (pre["loss"], deq["loss"])
    assert losses[True] != losses[False]
    assert losses[True] == pytest.approx(losses[False], rel=0.1)


def test_gap_tv_start_on_a_batch_equals_gap_tv_on_each_capture():
    """deq.gap_tv_start: GAP-TV on a training batch (BatchCacti) gives each sample what GAP-TV on that
    capture alone gives (the start DE-GAP uses at inference)."""
    from sci_viewer.algorithms.gap_tv import gap_tv_start
    from sci_viewer.physics import Cacti
    from sci_viewer.training.sim import BatchCacti

    g = torch.Generator().manual_seed(3)
    mask = (torch.rand(2, 6, 24, 24, generator=g) > 0.5).float()
    x = torch.rand(2, 6, 24, 24, generator=g)
    op = BatchCacti(mask)
    y = op.A(x)
    batch = gap_tv_start(op, y, 7, "deq")  # type: ignore[arg-type]
    for i in range(2):
        one = gap_tv_start(Cacti(mask[i]), y[i], 7, "DE-GAP")
        assert torch.allclose(batch[i], one, atol=1e-6)
    assert torch.equal(gap_tv_start(op, y, 0, "deq"), op.initial(y))  # type: ignore[arg-type]


def test_deq_gap_tv_start_cuts_the_forward_solve(tmp_path, davis, monkeypatch):
    """A DEQ step with deq.gap_tv_start solves from GAP-TV's estimate (checked on what the solve is
    given); a negative count is refused by name."""
    import sci_viewer.training.loop as loop
    from sci_viewer.errors import JobError

    starts = []
    real = loop.equilibrium
    monkeypatch.setattr(loop, "equilibrium", lambda f, x0, *a, **k: starts.append(x0) or real(f, x0, *a, **k))
    for n in (0, 5):
        cfg = config_from_dict(dict(TINY, deq=dict(TINY["deq"], gap_tv_start=n)))
        trainer = loop.Trainer(cfg, tmp_path / str(n), quiet=True)
        trainer._make_opt("deq")
        trainer._deq_step()
    cold, warm = starts
    assert cold.shape == warm.shape and not torch.equal(cold, warm)
    with pytest.raises(JobError, match="deq.gap_tv_start"):
        config_from_dict(dict(TINY, deq=dict(TINY["deq"], gap_tv_start=-1)))


def test_bench_validation_scores_any_model_on_a_configs_held_out_set(tmp_path, davis, capsys):
    """``sci-viewer bench validation``: the training validation of given models, without training."""
    from sci_viewer.models import build_denoiser, save_model

    save_model(build_denoiser("unet", ch=4), tmp_path / "a.pt", "unet", {"ch": 4})
    cfg_path = _write(tmp_path, dict(TINY, val=dict(TINY["val"], masks=["iid", "noisy"])))
    rows_path = tmp_path / "rows.json"
    assert main(["bench", "validation", "--config", str(cfg_path), "--model", str(tmp_path / "a.pt"),
                 "--json", str(rows_path)]) == 0
    out = capsys.readouterr().out
    assert "held-out scenes car-shadow" in out and "psnr_iid" in out and "psnr_noisy" in out
    (row,) = json.loads(rows_path.read_text())
    assert row["val_psnr"] == pytest.approx((row["val_psnr_iid"] + row["val_psnr_noisy"]) / 2)
    assert row["val_iters"] <= 3  # the config's val.max_iter
    # the share of solves at tol: all of them exactly when the largest residual is at tol (1e-4, the default)
    assert 0.0 <= row["val_reached"] <= 1.0 and (row["val_reached"] == 1.0) == (row["val_residual"] <= 1e-4)
    assert f"at tol {100 * row['val_reached']:.0f} %" in out


def test_every_shipped_config_loads_and_can_start_from_its_model():
    """Each resources/train config parses, trains on no benchmark scene, and a config that starts from
    a bundled model (``init_from: resources/models/...``) finds it and fits it (grown or as it is)."""
    from pathlib import Path

    from sci_viewer.models import build_denoiser, read_model_file

    configs = sorted(Path("resources/train").glob("*.yaml"))
    assert len(configs) > 10
    for path in configs:
        cfg = load_config(str(path))
        assert not {"traffic", "runner", "drop", "kobe", "crash", "aerial"} & set(cfg.data.train_scenes), path
        if not cfg.init_from.startswith("resources/models/"):
            continue  # a sitting that continued a run folder (checkpoints/, not shipped)
        assert Path(cfg.init_from).is_file(), f"{path.name}: {cfg.init_from} is not shipped"
        blob = read_model_file(cfg.init_from)
        net = build_denoiser(cfg.model.arch, **cfg.model.kwargs)
        if cfg.init_grow:
            net.grow_from(blob["state_dict"])
        else:
            net.load_state_dict(blob["state_dict"])


def test_a_config_number_in_exponent_form_is_read_as_a_number():
    """lr: 1e-4 (YAML 1.1 text, no decimal point) is the number; 'abc' is still refused by name."""
    cfg = config_from_dict(yaml.safe_load("pretrain: {lr: 1e-4}\ndeq: {tol: 5E-5}"))
    assert cfg.pretrain.lr == 1e-4 and cfg.deq.tol == 5e-5
    with pytest.raises(Exception, match="lr"):
        config_from_dict(yaml.safe_load("pretrain: {lr: abc}"))
