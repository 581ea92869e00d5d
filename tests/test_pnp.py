"""PnP-GAP: the noise-level schedule, its iteration counts, the residual, engine integration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import sci_viewer.models as models
from sci_viewer.algorithms import get_algorithm
from sci_viewer.algorithms.pnp import PnpGapSettings, PnpGapSolver
from sci_viewer.engine import IterationEvent, Job, execute
from sci_viewer.errors import JobError
from sci_viewer.physics import Cacti


class RecordingSmoother(nn.Module):
    """A box-blur blend that records the noise levels it is called with."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(0.8))
        self.sigmas: list[float] = []

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        self.sigmas.append(float(sigma) if sigma is not None else float("nan"))
        return self.weight * F.avg_pool2d(x, 3, 1, 1) + (1 - self.weight) * x


def _solver(demo, **settings) -> tuple[PnpGapSolver, RecordingSmoother]:
    op = Cacti(torch.from_numpy(demo.mask_float()))
    y = torch.from_numpy(demo.measurements([0])[0])
    net = RecordingSmoother()
    # the network alone (ensemble 1): one call per iteration, so that its calls are the schedule's
    return PnpGapSolver(op, y, PnpGapSettings(**{"ensemble": 1, **settings}), net=net), net


def test_registered_with_the_cli_field_names():
    s = get_algorithm("pnp-gap").settings()
    assert s.model == "unet-sigma-b3-long" and s.iterations == len(s.sigmas) * s.iters_per_level
    assert s.sigmas == sorted(s.sigmas, reverse=True)
    # the published PnP-SCI schedule: 50, 25, 12, 6 (/255), ten accelerated iterations each
    assert (s.sigmas, s.iters_per_level, s.iterations, s.accelerate) == ([50.0, 25.0, 12.0, 6.0], 10, 40, True)
    assert s.ensemble == 8  # the denoiser averaged over eight flips and transposes (chosen on held-out captures)


def test_the_default_model_is_a_noise_conditioned_denoiser_that_uses_the_schedule(small_demo):
    """PnP-GAP's shipped default hears the noise level: the same input at two levels gives two outputs."""
    from sci_viewer.models import list_models, load_model

    net = load_model(PnpGapSettings().model)
    assert net.noise_input and models.model_kind(net) == models.DENOISER
    assert {m.name: m for m in list_models()}["unet-sigma-b3-long"].card  # shipped with its model card
    v = torch.from_numpy(small_demo.truth[0][None]).float() / 255.0
    v = v + 0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = net(v, 6 / 255), net(v, 50 / 255)
    assert float((a - b).abs().mean()) > 1e-3


def test_schedule_decreases_then_repeats_the_last_level(small_demo):
    solver, net = _solver(small_demo, sigmas=[50, 25, 12], iters_per_level=2, iterations=9)
    with torch.inference_mode():
        for _ in range(solver.max_iter):
            x, r = solver.step()
    expected = [50, 50, 25, 25, 12, 12, 12, 12, 12]
    assert net.sigmas == pytest.approx([v / 255 for v in expected])
    assert x.shape == (8, 64, 64) and not solver.converged()


def test_residual_is_the_relative_change(small_demo):
    solver, _ = _solver(small_demo, iterations=3)
    with torch.inference_mode():
        x1, _ = solver.step()
        x1 = x1.clone()
        x2, r = solver.step()
    assert r == pytest.approx(float((x2 - x1).norm() / x2.norm()), rel=1e-5)


def test_runs_in_the_engine_for_the_set_iteration_count(tmp_path, monkeypatch, small_demo):
    monkeypatch.setitem(models._DENOISERS, "test-recorder", RecordingSmoother)
    models.denoiser_names()
    path = models.save_model(RecordingSmoother(), tmp_path / "rec.pt", "test-recorder", {})
    events = []
    fin = execute(Job(small_demo, "pnp-gap", {"model": str(path), "iterations": 12}, device="cpu",
                      measurements=[1]),
                  lambda e: events.append(e) if isinstance(e, IterationEvent) else None)
    (res,) = fin.results
    assert res.iterations == 12 and len(events) == 12 and not res.converged
    assert res.psnr is not None and np.isfinite(res.psnr)
    # the projection keeps the estimate consistent with the measurement as it goes
    assert res.psnr > events[0].psnr


def test_bad_settings_are_refused(small_demo):
    with pytest.raises(JobError):
        _solver(small_demo, sigmas=[])
    with pytest.raises(JobError):
        _solver(small_demo, iterations=0)


@pytest.mark.parametrize("sigmas", ["abc", [50, "x"], [50, float("nan")]])
def test_a_noise_schedule_that_is_not_a_list_of_numbers_is_named(sigmas):
    with pytest.raises(JobError, match="sigmas must be a list of numbers"):
        get_algorithm("pnp-gap").settings(sigmas=sigmas)


def test_a_noise_schedule_of_whole_numbers_is_taken_as_floats():
    sigmas = get_algorithm("pnp-gap").settings(sigmas=[50, 25]).sigmas
    assert sigmas == [50.0, 25.0] and all(type(s) is float for s in sigmas)


def test_gap_tv_start_is_gap_tv_estimate(small_demo):
    """``gap_tv_start`` (off by default, as PnP-SCI runs it) starts from GAP-TV's estimate, the same
    helper DE-GAP starts from; a negative count is refused by name."""
    from sci_viewer.algorithms.gap_tv import gap_tv_start

    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    y = torch.from_numpy(small_demo.measurements([0])[0])
    assert PnpGapSettings().gap_tv_start == 0
    cold, _ = _solver(small_demo)
    assert torch.equal(cold.x[0], op.initial(y))
    warm, _ = _solver(small_demo, gap_tv_start=5)
    expected = execute(Job(small_demo, "gap-tv", {"iterations": 5}, measurements=[0])).results[0].estimate
    assert torch.allclose(warm.x[0], torch.as_tensor(expected, dtype=warm.x.dtype), atol=1e-5)
    assert torch.equal(warm.x[0], gap_tv_start(op, y, 5, "PnP-GAP"))
    with pytest.raises(JobError, match="PnP-GAP gap_tv_start"):
        _solver(small_demo, gap_tv_start=-1)


class _Amplifier(nn.Module):
    """A denoiser gone wrong: it triples its input (what a net far outside its training range may do)."""

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        return 3.0 * x


@pytest.mark.parametrize("clip", [True, False])
def test_clip_keeps_iterates_in_the_frames_range(small_demo, clip):
    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    y = torch.from_numpy(small_demo.measurements([0])[0])
    solver = PnpGapSolver(op, y, PnpGapSettings(iterations=5, clip=clip), net=_Amplifier())
    with torch.inference_mode():
        for _ in range(5):
            x, _ = solver.step()
    assert (float(x.max()) <= 1.0 and float(x.min()) >= 0.0) == clip
    assert PnpGapSettings().clip  # on by default


@pytest.mark.parametrize("accelerate", [True, False])
def test_relaxed_data_step_weighs_the_measurement_by_its_noise(small_demo, accelerate):
    """estimate_error 0 (the default) is the exact projection; > 0 the relaxed step of DE-GAP: with
    a given noise, the data step of the first iteration is the exact one scaled by Phi / (Phi + rho)."""
    assert PnpGapSettings().estimate_error == 0.0
    exact, _ = _solver(small_demo, accelerate=accelerate)
    assert exact.rho == 0.0 and exact.notes == []
    relaxed, _ = _solver(small_demo, accelerate=accelerate, estimate_error=10.0, noise=20.0)
    assert relaxed.rho == pytest.approx((20.0 / 10.0) ** 2)
    assert "given" in relaxed.notes[0] and "relaxed data step" in relaxed.notes[0]
    # from a start off the data (x0 = A^T(y / Phi) fits y exactly), the data step moves less
    start = relaxed.x * 0.5
    exact.x, relaxed.x = start.clone(), start.clone()
    with torch.no_grad():
        a, _ = exact.step()
        b, _ = relaxed.step()
    assert not torch.allclose(a, b)
    op, y = relaxed.op, relaxed.y
    step_exact = op.At(op.scaled_residual(y - op.A(start)))
    step_relaxed = op.At(op.scaled_residual(y - op.A(start), relaxed.rho))
    assert float(step_relaxed.norm()) < 0.9 * float(step_exact.norm())
    estimated, _ = _solver(small_demo, estimate_error=10.0)
    assert estimated.rho > 0 and "estimated from the capture" in estimated.notes[0]


@pytest.mark.parametrize("noise, plain", [(5.0, False), (80.0, True)])
def test_a_noisy_measurement_takes_plain_gap(small_demo, noise, plain):
    """Accelerated GAP, the default, turns into plain GAP on a measurement whose noise is at least
    NOISY_LEVEL (accelerated GAP accumulates the noise): said in the notes; plain_when_noisy off keeps it."""
    from sci_viewer.noise import NOISY_LEVEL

    assert PnpGapSettings().plain_when_noisy and NOISY_LEVEL == 50.0
    solver, _ = _solver(small_demo, noise=noise)
    assert solver.accelerate is not plain
    assert any("plain GAP instead of accelerated" in n for n in solver.notes) is plain
    kept, _ = _solver(small_demo, noise=noise, plain_when_noisy=False)
    assert kept.accelerate and kept.notes == []
    with torch.no_grad():  # plain GAP does not touch the running measurement
        solver.x = solver.x * 0.5
        solver.step()
    assert torch.equal(solver.y1, solver.y) is plain
