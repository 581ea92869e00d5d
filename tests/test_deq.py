"""DE-GAP: the solver mechanics through the engine, with small stand-in denoisers.

The trained default model is measured by the benchmark (``sci-viewer bench de-gap``); most tests
here use a contractive smoother in its place, so they check convergence, stopping rules, shapes and
model loading. One test checks the shipped model's quality on a benchmark row.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import sci_viewer.models as models
from sci_viewer.algorithms import get_algorithm
from sci_viewer.algorithms.deq import DeGapSettings, DeGapSolver, get_denoiser
from sci_viewer.capture import Capture
from sci_viewer.demo import demo_capture
from sci_viewer.engine import IterationEvent, Job, execute
from sci_viewer.errors import JobError
from sci_viewer.physics import Cacti


class Smoother(nn.Module):
    """``D(v) = s * box3(v) + (1 - s) / 2``: a contraction (factor s) standing in for a denoiser."""

    def __init__(self, strength: float = 0.9) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.tensor(float(strength)))

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        blur = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)
        return self.strength * blur + (1 - self.strength) * 0.5


@pytest.fixture()
def smoother_file(tmp_path, monkeypatch):
    monkeypatch.setitem(models._DENOISERS, "test-smoother", Smoother)
    models.denoiser_names()  # built-ins registered before the test entry is removed again
    return str(models.save_model(Smoother(0.9), tmp_path / "smoother.pt", "test-smoother", {"strength": 0.9}))


def _capture(size: int = 48, b: int = 8, n: int = 1, seed: int = 0) -> Capture:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (n, b, size, size)).astype(np.uint8)
    mask = (rng.random((b, size, size)) < 0.5).astype(np.uint8)
    meas = np.einsum("bhw,nbhw->nhw", mask.astype(np.float64), truth.astype(np.float64))
    return Capture(meas, mask, truth, name=f"random {b}x{size}")


def test_registered_with_the_cli_field_names():
    spec = get_algorithm("de-gap")
    s = spec.settings()
    assert (s.model, s.max_iter, s.anderson) == ("auto", 100, True)
    # chosen with `sci-viewer bench tol-drift` on held-out crops; DE-RNN starts from x0
    assert (s.tol, s.gap_tv_start) == (2e-5, 20)
    assert get_algorithm("de-rnn").settings().gap_tv_start == 0
    with pytest.raises(JobError, match="no setting"):
        spec.settings(iterations=3)


def test_settings_take_their_declared_types():
    spec = get_algorithm("de-gap")
    s = spec.settings(tol=1, sigma=None, gap_tv_start=0)
    assert isinstance(s.tol, float) and s.sigma is None
    for name, value in {"gap_tv_start": 2.5, "clip": "yes", "model": 3, "max_iter": None}.items():
        with pytest.raises(JobError, match=f"setting {name} must be"):
            spec.settings(**{name: value})


def test_converges_to_tol_with_one_event_per_iteration(smoother_file, small_demo):
    events: list[IterationEvent] = []
    fin = execute(Job(small_demo, "de-gap", {"model": smoother_file, "tol": 1e-5, "noisy_tol": 0.0}, device="cpu",
                      measurements=[0]),
                  lambda e: events.append(e) if isinstance(e, IterationEvent) else None)
    (res,) = fin.results
    assert res.converged and res.final_residual <= 1e-5
    assert [e.k for e in events] == list(range(1, res.iterations + 1))
    assert events[-1].residual == res.final_residual and events[-1].estimate is not None
    assert all(e.psnr is not None for e in events)
    assert res.estimate.shape == (8, 64, 64) and res.estimate.dtype == np.float32


@pytest.mark.parametrize("estimate_error", [0.0, 10.0])  # the exact GAP projection, and the relaxed data step
def test_fixed_point_really_is_one(smoother_file, small_demo, estimate_error):
    settings = {"model": smoother_file, "tol": 1e-6, "estimate_error": estimate_error, "noisy_tol": 0.0}
    fin = execute(Job(small_demo, "de-gap", settings, device="cpu", measurements=[0]))
    x = torch.from_numpy(fin.results[0].estimate)[None]
    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    y = torch.from_numpy(small_demo.measurements([0])[0])
    rho = DeGapSolver(op, y, DeGapSettings(**settings)).rho
    assert (rho > 0) == (estimate_error > 0)
    with torch.no_grad():
        fx = Smoother(0.9)(op.project(x, y, rho))
    assert float((fx - x).norm() / fx.norm()) < 1e-5


def test_tol_and_max_iter_are_honoured(smoother_file):
    cap = _capture()
    counts = []
    for tol in (1e-2, 1e-4, 1e-6):
        (res,) = execute(Job(cap, "de-gap", {"model": smoother_file, "tol": tol, "noisy_tol": 0.0}, device="cpu")).results
        assert res.converged and res.final_residual <= tol
        counts.append(res.iterations)
    assert counts[0] < counts[1] < counts[2]
    (res,) = execute(Job(cap, "de-gap", {"model": smoother_file, "tol": 0.0, "max_iter": 6},
                         device="cpu")).results
    assert res.iterations == 6 and not res.converged


def test_anderson_needs_fewer_iterations_than_plain(smoother_file):
    cap = _capture()
    iters = {}
    for anderson in (True, False):
        (res,) = execute(Job(cap, "de-gap", {"model": smoother_file, "tol": 1e-5, "anderson": anderson},
                             device="cpu")).results
        assert res.converged
        iters[anderson] = res.iterations
    assert iters[True] * 2 < iters[False], iters


def test_warm_start_from_the_fixed_point_converges_at_once(smoother_file):
    cap = _capture()
    first = execute(Job(cap, "de-gap", {"model": smoother_file, "tol": 1e-6, "noisy_tol": 0.0}, device="cpu"))
    again = execute(Job(cap, "de-gap", {"model": smoother_file, "tol": 1e-5, "noisy_tol": 0.0}, device="cpu",
                        warm_start=first.reconstruction, k_offset=first.results[0].iterations))
    (res,) = again.results
    assert res.converged and res.iterations - first.results[0].iterations <= 2


def test_start_is_gap_tv_after_gap_tv_start_iterations(smoother_file):
    from sci_viewer.algorithms.gap_tv import GapTvSettings, GapTvSolver

    cap = _capture(size=32)
    op = Cacti(torch.from_numpy(cap.mask_float()))
    y = torch.from_numpy(cap.measurements([0])[0])
    solver = DeGapSolver(op, y, DeGapSettings(gap_tv_start=0), net=Smoother(0.9))
    assert torch.equal(solver._start(op, y, 0), op.initial(y))
    gap = GapTvSolver(op, y, GapTvSettings())
    for _ in range(5):
        x, _ = gap.step()
    assert torch.equal(solver._start(op, y, 5), x)
    with pytest.raises(JobError, match="gap_tv_start must be 0 or more"):
        execute(Job(cap, "de-gap", {"model": smoother_file, "gap_tv_start": -1}, device="cpu"))


def test_time_spent_on_the_start_is_counted(smoother_file, monkeypatch):
    def slow_start(self, op, y, gap_tv_iters):  # noqa: ANN001
        time.sleep(0.3)
        return op.initial(y)

    monkeypatch.setattr(DeGapSolver, "_start", slow_start)
    fin = execute(Job(_capture(size=16), "de-gap", {"model": smoother_file, "max_iter": 1}, device="cpu"))
    assert fin.results[0].seconds >= 0.3


def test_the_start_does_not_move_the_fixed_point(smoother_file):
    cap = _capture()
    ends = [execute(Job(cap, "de-gap", {"model": smoother_file, "tol": 1e-7, "gap_tv_start": n, "noisy_tol": 0.0},
                        device="cpu")).results[0] for n in (0, 20)]
    assert all(r.converged for r in ends)
    assert np.abs(ends[0].estimate - ends[1].estimate).max() < 1e-4


@pytest.mark.parametrize("b,size", [(8, 256), (10, 256), (14, 256), (8, 512), (14, 512)])
def test_any_b_and_frame_size(b, size):
    cap = _capture(size=size, b=b)
    op = Cacti(torch.from_numpy(cap.mask_float()))
    y = torch.from_numpy(cap.measurements([0])[0])
    with torch.inference_mode():
        solver = DeGapSolver(op, y, DeGapSettings(max_iter=3, tol=0.0), net=Smoother(0.9))
        for _ in range(3):
            x, r = solver.step()
    assert x.shape == (b, size, size) and np.isfinite(r)


def test_real_architectures_run_in_the_map(tmp_path):
    """Every built-in denoiser loads from a model file and runs inside DE-GAP and PnP-GAP (untrained weights)."""
    cap = _capture(size=32, b=10)
    for arch, kwargs in (("cnn", {"features": 4, "depth": 3}), ("rsn-cnn", {"features": 4, "depth": 3}),
                         ("unet", {}), ("unet", {"mask_input": True}), ("ffdnet", {"features": 8, "depth": 3})):
        path = models.save_model(models.build_denoiser(arch, **kwargs), tmp_path / f"{arch}.pt", arch, kwargs)
        for algo in ("de-gap", "pnp-gap"):
            fin = execute(Job(cap, algo, {"model": str(path), "max_iter" if algo == "de-gap" else "iterations": 3},
                              device="cpu"))
            assert fin.results[0].estimate.shape == (10, 32, 32)


def test_bad_solver_settings_are_job_errors(smoother_file):
    for bad in ({"history": 0}, {"beta": 0.0}, {"max_iter": 0}):
        with pytest.raises(JobError):
            execute(Job(_capture(), "de-gap", {"model": smoother_file, **bad}, device="cpu"))


def test_missing_model_is_a_clear_job_error(tmp_path):
    with pytest.raises(JobError, match="sci-viewer train"):
        execute(Job(_capture(), "de-gap", {"model": str(tmp_path / "nope.pt")}, device="cpu"))


def test_models_are_cached_per_name_and_device(smoother_file):
    a = get_denoiser(smoother_file, "cpu")
    assert get_denoiser(smoother_file, "cpu") is a
    assert not any(p.requires_grad for p in a.parameters())


def test_demo_at_full_size_runs(smoother_file):
    cap = demo_capture(size=256, n_meas=1)
    fin = execute(Job(cap, "de-gap", {"model": smoother_file, "max_iter": 5}, device="cpu"))
    assert fin.results[0].iterations <= 5


def test_train_memory_benchmark_runs_small(capsys):
    import argparse

    from sci_viewer.benchmarks import train_memory

    parser = argparse.ArgumentParser()
    train_memory.add_arguments(parser)
    args = parser.parse_args(["--model", "no-such-model", "--arch", "cnn", "--size", "16", "--iters", "2,5",
                              "--unrolled", "2"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: thread hand-offs would dominate on a busy machine
    try:
        assert train_memory.run(args) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "peak(5) / peak(2)" in out and "unrolled" in out


class Stretcher(nn.Module):
    """``D(v) = 1.5 v - 0.25``: pushes values out of [0, 1], as an untrained or out-of-range model can."""

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        return 1.5 * x - 0.25


@pytest.mark.parametrize("algo", ["de-gap", "de-rnn"])
def test_clip_keeps_the_estimate_in_the_frames_range(tmp_path, monkeypatch, algo):
    if algo == "de-rnn":
        class Stretched(nn.Module):  # a recurrent-kind stand-in
            kind = models.RECURRENT

            def iterate(self, x, op, y):
                return 1.5 * op.project(x, y) - 0.25
        cls, name = Stretched, "test-stretched-rnn"
    else:
        cls, name = Stretcher, "test-stretcher"
    monkeypatch.setitem(models._DENOISERS, name, cls)
    models.denoiser_names()
    path = str(models.save_model(cls(), tmp_path / "m.pt", name, {}))
    ranges = {}
    for clip in (True, False):
        exact = {"estimate_error": 0.0} if algo == "de-gap" else {}  # exact projection: the stretch leaves [0, 1]
        fin = execute(Job(_capture(), algo, {"model": path, "max_iter": 3, "clip": clip, **exact}, device="cpu"))
        est = fin.results[0].estimate
        ranges[clip] = (float(est.min()), float(est.max()))
    assert ranges[True][0] >= 0.0 and ranges[True][1] <= 1.0
    assert ranges[False][0] < 0.0 and ranges[False][1] > 1.0
    assert get_algorithm("de-gap").settings().clip and not get_algorithm("de-rnn").settings().clip


def test_shipped_model_beats_gap_tv_on_drop(shared_data):
    """The shipped DE-GAP on drop40 measurement 0 (a benchmark row): converged, above GAP-TV, and
    its default GAP-TV start as good as x0 in fewer iterations."""
    from sci_viewer.benchmarks._scenes import load_scene

    scene = load_scene("drop40")
    run = {"measurements": [0], "ssim_every": 10**9, "preview_every": 10**9}
    (degap,) = execute(Job(scene, "de-gap", {}, **run)).results
    (gaptv,) = execute(Job(scene, "gap-tv", {}, **run)).results
    assert degap.converged, degap.final_residual
    assert degap.psnr > gaptv.psnr + 0.3, (degap.psnr, gaptv.psnr)
    # the GAP-TV start saves network evaluations and lands near the same fixed point
    (cold,) = execute(Job(scene, "de-gap", {"gap_tv_start": 0}, **run)).results
    assert cold.converged and degap.iterations < cold.iterations
    assert abs(cold.psnr - degap.psnr) < 0.1, (cold.psnr, degap.psnr)


def test_bench_de_gap_prints_each_target_with_its_device(shared_data, tmp_path, capsys):
    from sci_viewer.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "de-gap", "--scenes", "drop40", "--max-iter", "3", "--no-stability",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on cpu (target <= 7 s on the 2-core CPU)" in text
    saved = json.loads(out.read_text())
    summary = saved["summary"]
    assert (saved["ensemble"], saved["pnp_ensemble"]) == (1, get_algorithm("pnp-gap").settings().ensemble)
    assert set(summary["gain_over_gap_tv"]) == {"drop40"} and summary["degap_max_seconds"] > 0
    assert set(summary["pnp_gain_over_gap_tv"]) == {"drop40"}
    assert "PnP-GAP - GAP-TV on drop40" in text and "(target >= +1.5)" in text


def test_bench_de_gap_names_a_bad_setting_before_any_algorithm_runs(shared_data, capsys):
    from sci_viewer.cli import main

    assert main(["bench", "de-gap", "--scenes", "drop40", "--estimate-error", "-3", "--no-stability"]) == 2
    captured = capsys.readouterr()
    assert "estimate_error must be 0 or more" in captured.err
    assert "gap-tv" not in captured.out  # no row: nothing ran
    assert main(["bench", "de-gap", "--scenes", "drop40", "--pnp-ensemble", "3", "--no-stability"]) == 2
    captured = capsys.readouterr()
    assert "PnP-GAP setting ensemble must be one of 1, 2, 4, 8" in captured.err and "gap-tv" not in captured.out
