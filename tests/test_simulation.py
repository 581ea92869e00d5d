"""Simulated masks and sensor noise, the noise estimate, noise-aware DE-GAP maps, broad training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from sci_viewer.algorithms.deq import map_sigma, noise_rule
from sci_viewer.cli import main
from sci_viewer.models import build_denoiser
from sci_viewer.noise import estimate_measurement_sigma, frame_sigma, relaxation
from sci_viewer.physics import Cacti
from sci_viewer.simulation import MASK_KINDS, NoiseModel, make_mask, simulate
from sci_viewer.training.config import config_from_dict
from sci_viewer.training.data import default_root
from sci_viewer.training.sim import kind_masks, map_noise, noisy_measurements, validation_capture


def smooth_video(rng: np.random.Generator, b: int = 8, h: int = 96, w: int = 96) -> np.ndarray:
    """A textured but locally smooth moving scene on [0, 1] (N=1, B, H, W)."""
    yy, xx = np.mgrid[0:h, 0:w] / 16.0
    frames = [0.5 + 0.2 * np.sin(xx + 0.3 * t) * np.cos(0.7 * yy) + 0.1 * np.sin(0.4 * xx + yy) for t in range(b)]
    return np.stack(frames)[None].astype(np.float32)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_mask_kinds(kind):
    rng = np.random.default_rng(0)
    m = make_mask(rng, kind, 10, 40, 48)
    assert m.shape == (10, 40, 48) and m.dtype == np.float32
    assert m.min() >= 0 and m.max() <= 1
    if kind == "grey":
        levels = np.unique(m)
        assert len(levels) > 100 and m.max() == pytest.approx(1.0)
    else:
        assert set(np.unique(m)) <= {0.0, 1.0}
    if kind == "sparse":
        assert 0.05 < m.mean() < 0.3
    if kind == "translating":
        # frame k is frame 0 moved by k pixels along one axis, in one direction
        moved = [np.array_equal(m[1][:, s:], m[0][:, :-s] if s else m[0]) for s in (1,)]
        moved += [np.array_equal(m[1][:, :-1], m[0][:, 1:]), np.array_equal(m[1][1:], m[0][:-1]),
                  np.array_equal(m[1][:-1], m[0][1:])]
        assert any(moved)


def test_noise_model_is_zero_mean_with_negatives_and_its_sigma():
    rng = np.random.default_rng(1)
    y = np.full((200, 200), 0.05, np.float32)
    y[:, 100:] = 2.0
    model = NoiseModel(photons=400.0, read=0.02)
    noisy = model.apply(rng, y)
    assert (noisy < 0).sum() > 100  # read noise around a dark level: negative pixels, as in real data
    assert abs(float((noisy - y).mean())) < 0.01
    assert float((noisy - y).std()) == pytest.approx(model.sigma(y), rel=0.05)
    assert NoiseModel().noiseless and np.array_equal(NoiseModel().apply(rng, y), y)


def test_frame_sigma_matches_the_projection_of_measurement_noise():
    rng = np.random.default_rng(2)
    mask = make_mask(rng, "grey", 8, 64, 64)
    op = Cacti(torch.from_numpy(mask))
    n = torch.from_numpy(rng.normal(0, 0.03, (64, 64)).astype(np.float32))
    carried = op.At(n / op.phi_sum)  # what GAP's correction adds to the frames
    assert float(carried.pow(2).mean().sqrt()) == pytest.approx(frame_sigma(0.03, mask), rel=0.05)


@pytest.mark.parametrize("kind", ["iid", "grey", "sparse"])
def test_measurement_noise_estimate(kind):
    rng = np.random.default_rng(3)
    x = smooth_video(rng, 10, 128, 128)
    mask = make_mask(rng, kind, 10, 128, 128)
    clean = simulate(rng, x, mask)[0]
    floor = estimate_measurement_sigma(clean, mask)
    for model in (NoiseModel(read=0.01), NoiseModel(photons=300.0, read=0.004)):
        y = simulate(rng, x, mask, model, full_scale=float(clean.max()))[0]
        true = model.sigma(clean)
        est = estimate_measurement_sigma(y, mask)
        assert est == pytest.approx(true, rel=0.35), (kind, model)
        assert est > 2 * floor


def test_noise_estimate_fits_each_frame_its_own_level():
    """Frames that change level (a flickering light, motion across a flat region) are no fit error:
    a noiseless capture of a piecewise-flat scene whose frames differ gives (almost) no noise."""
    rng = np.random.default_rng(6)
    b, n = 10, 96
    levels = rng.uniform(0.1, 0.9, b)
    x = np.repeat(levels[:, None, None], n, 1).repeat(n, 2)[None].astype(np.float32)
    mask = make_mask(rng, "iid", b, n, n)
    clean = simulate(rng, x, mask)[0]
    assert estimate_measurement_sigma(clean, mask) < 1e-4
    y = simulate(rng, x, mask, NoiseModel(read=0.01), full_scale=float(clean.max()))[0]
    assert estimate_measurement_sigma(y, mask) == pytest.approx(0.01 * float(clean.max()), rel=0.3)


def test_noise_estimate_edge_cases():
    rng = np.random.default_rng(7)
    # one mask for every frame: the fitted levels are collinear; the fit keeps the right degrees of freedom
    same = np.repeat(make_mask(rng, "iid", 1, 96, 96), 8, 0)
    y = simulate(rng, smooth_video(rng, 8, 96, 96), same, NoiseModel(read=0.02), full_scale=4.0)[0]
    assert estimate_measurement_sigma(y, same) == pytest.approx(0.08, rel=0.3)
    # many frames: the window grows to keep the fit overdetermined
    mask = make_mask(rng, "iid", 40, 96, 96)
    y = simulate(rng, smooth_video(rng, 40, 96, 96), mask, NoiseModel(read=0.01), full_scale=20.0)[0]
    assert estimate_measurement_sigma(y, mask) == pytest.approx(0.2, rel=0.3)
    # a frame smaller than one window: no estimate (the exact data step)
    assert estimate_measurement_sigma(rng.normal(size=(6, 6)), make_mask(rng, "iid", 8, 6, 6)) == 0.0


def test_map_sigma_rules():
    net = build_denoiser("unet", ch=4, noise_input=True)
    rng = np.random.default_rng(4)
    mask = make_mask(rng, "iid", 8, 64, 64)
    op = Cacti(torch.from_numpy(mask))
    x = smooth_video(rng, 8, 64, 64)
    y = torch.from_numpy(simulate(rng, x, mask, NoiseModel(read=0.02), full_scale=4.0)[0])
    assert map_sigma(net, op, y, 12.0, None) == pytest.approx(12 / 255)  # an explicit level wins
    assert noise_rule(net) is None and map_sigma(net, op, y, None, None) is None  # not trained noise-aware
    net.model_meta = {"config": {"deq": {"sigma_offset": 2.0}}}
    assert noise_rule(net) == 2.0
    given = map_sigma(net, op, y, None, 0.08 * 255)
    assert given == pytest.approx(2 / 255 + frame_sigma(0.08, mask))
    estimated = map_sigma(net, op, y, None, None)
    assert estimated == pytest.approx(2 / 255 + frame_sigma(0.08, mask), rel=0.35)
    plain = build_denoiser("unet", ch=4)
    plain.model_meta = net.model_meta
    assert noise_rule(plain) is None  # a net without a noise input gets no level


def test_training_draws_mask_kinds_and_noise():
    rng = np.random.default_rng(5)
    masks = kind_masks(rng, 12, 6, 32, 32, (0.3, 0.7), ["grey", "sparse"])
    assert masks.shape == (12, 6, 32, 32)
    grey = [len(torch.unique(m)) > 2 for m in masks]
    assert any(grey) and not all(grey)
    y = torch.full((6, 32, 32), 1.0)
    noisy = noisy_measurements(rng, y, 0.5, (100.0, 1000.0), (0.0, 0.02))
    changed = [not torch.equal(noisy[i], y[i]) for i in range(6)]
    assert 0 < sum(changed) < 6
    assert torch.equal(noisy_measurements(rng, y, 0.0, (100.0, 1000.0), (0.0, 0.02)), y)
    sig, _ = map_noise(noisy, masks[:6, :, :, :], 1 / 255, 0.0)  # the exact projection: the level alone
    assert sig.shape == (6,)
    assert all(float(sig[i]) > 1.5 / 255 if changed[i] else float(sig[i]) == pytest.approx(1 / 255) for i in range(6))
    # the relaxed data step in training: each sample's weight from its own estimated noise, as at inference
    assert map_noise(noisy, masks[:6], None, 0.0) == (None, 0.0)
    sigma, rho = map_noise(noisy, masks[:6], 1 / 255, 10 / 255)
    assert rho.shape == (6, 1, 1) and sigma.shape == (6,)
    for i in range(6):
        est = estimate_measurement_sigma(noisy[i].numpy(), masks[i].numpy())
        assert float(rho[i]) == pytest.approx(relaxation(est, 10 / 255), rel=1e-5)
        assert float(sigma[i]) == pytest.approx(1 / 255 + frame_sigma(est, masks[i].numpy(), float(rho[i])), rel=1e-5)
    assert all(float(rho[i]) > 0.1 for i in range(6) if changed[i])


def test_validation_captures_are_fixed():
    gt = torch.rand(2, 6, 32, 32)
    for kind in ("iid", "translating", "grey", "noisy"):
        op1, y1 = validation_capture(kind, gt)
        op2, y2 = validation_capture(kind, gt)
        assert torch.equal(op1.mask, op2.mask) and torch.equal(y1, y2)
    op, y = validation_capture("noisy", gt)
    assert not torch.equal(y, op.A(gt))


def test_config_refuses_unknown_mask_kind_and_bad_ranges():
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match="mask_kinds"):
        config_from_dict({"data": {"mask_kinds": ["stripes"]}})
    with pytest.raises(JobError, match="photons"):
        config_from_dict({"data": {"photons": [0, 10]}})
    with pytest.raises(JobError, match="val.masks"):
        config_from_dict({"val": {"masks": ["bogus"]}})


def test_broad_noise_aware_training_runs(tmp_path, shared_data):
    if not default_root().is_dir():
        pytest.skip("DAVIS training frames not present")
    cfg = {
        "name": "broad", "seed": 3, "device": "cpu",
        "model": {"arch": "unet", "kwargs": {"ch": 4, "noise_input": True}},
        "data": {"train_scenes": ["libby"], "val_scenes": ["car-shadow"], "frames": [4, 14], "scales": [1],
                 "mask_kinds": list(MASK_KINDS), "noise_p": 1.0},
        "deq": {"steps": 2, "batch": 2, "crop": 32, "max_iter": 3, "sigma_offset": 2.0, "estimate_error": 10.0},
        "val": {"every_steps": 0, "size": 32, "max_iter": 3, "masks": ["grey", "noisy"]},
    }
    path = tmp_path / "broad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), "--out", str(out), "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    val = [r for r in records if "val_psnr" in r][-1]
    assert {"val_psnr_grey", "val_psnr_noisy"} <= set(val)
    from sci_viewer.models import load_model

    trained = load_model(str(out / "deq_final.pt"))
    assert noise_rule(trained) == 2.0 and trained.model_meta["config"]["deq"]["estimate_error"] == 10.0
