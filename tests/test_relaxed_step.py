"""DE-GAP's relaxed data step for noisy captures (issue 14, item 3): the step, its weight from the
measurement noise, what the solver reports, and batched solves of measurements of different noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from sci_viewer.algorithms.deq import ESTIMATE_ERROR, DeGapSettings, DeGapSolver
from sci_viewer.capture import Capture
from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, NoticeEvent, execute
from sci_viewer.noise import frame_sigma, relaxation
from sci_viewer.physics import Cacti
from sci_viewer.simulation import NoiseModel, make_mask
from sci_viewer.training.sim import BatchCacti


def _op_and_data(seed: int = 0, b: int = 6, n: int = 1):
    rng = np.random.default_rng(seed)
    mask = torch.from_numpy(make_mask(rng, "grey", b, 16, 20))
    v = torch.from_numpy(rng.random((n, b, 16, 20)).astype(np.float32))
    y = torch.from_numpy((rng.random((n, 16, 20)) * b / 2).astype(np.float32))
    return Cacti(mask), mask, v, y


def test_relaxed_step_is_the_map_estimate() -> None:
    op, _, v, y = _op_and_data()
    exact = op.project(v, y)
    torch.testing.assert_close(op.A(exact), y, rtol=1e-5, atol=1e-4)  # rho = 0: A x = y
    torch.testing.assert_close(op.project(v, y, 0.0), exact)
    rho = 2.5
    x = op.project(v, y, rho)
    # the minimiser of ||y - A x||^2 + rho ||x - v||^2: rho (x - v) = A^T (y - A x)
    torch.testing.assert_close(rho * (x - v), op.At(y - op.A(x)), rtol=1e-4, atol=1e-5)
    assert float((op.A(x) - y).norm()) > 0.05 * float((op.A(v) - y).norm())  # no longer exact
    # a larger rho keeps x closer to v
    assert float((op.project(v, y, 50.0) - v).norm()) < float((x - v).norm())


def test_batch_operator_relaxes_each_sample_by_its_own_weight() -> None:
    _, mask, v, y = _op_and_data(n=3)
    batch = BatchCacti(mask.expand(3, *mask.shape).clone())
    rho = torch.tensor([0.0, 1.0, 8.0]).view(-1, 1, 1)
    out = batch.project(v, y, rho)
    for i in range(3):
        torch.testing.assert_close(out[i], Cacti(mask).project(v[i], y[i], float(rho[i])), rtol=1e-5, atol=1e-6)


def test_relaxation_weight_and_frame_noise() -> None:
    assert relaxation(0.1, 0.05) == pytest.approx(4.0)
    assert relaxation(0.1, 0.0) == 0.0 and relaxation(0.0, 0.05) == 0.0
    _, mask, _, _ = _op_and_data(b=8)
    m = mask.numpy()
    sigma_y, rho = 0.05, 3.0
    # Monte Carlo: the RMS of A^T(n / (Phi_sum + rho)) over the video for white noise n of std sigma_y
    rng = np.random.default_rng(1)
    phi = (m * m).sum(0)
    n = rng.normal(0, sigma_y, (400, *phi.shape))
    rms = np.sqrt(np.mean((m[None] * (n / (phi + rho))[:, None]) ** 2))
    assert frame_sigma(sigma_y, m, rho) == pytest.approx(rms, rel=0.03)
    assert frame_sigma(sigma_y, m, rho) < frame_sigma(sigma_y, m)


def _noisy_demo(noise: list[NoiseModel]) -> Capture:
    base = demo_capture(size=64, n_meas=len(noise))
    rng = np.random.default_rng(7)
    meas = np.stack([model.apply(rng, base.meas[i].astype(np.float64)) for i, model in enumerate(noise)])
    return dataclasses.replace(base, meas=meas.astype(np.float32))


def test_degap_relaxed_step_on_a_noisy_capture() -> None:
    capture = _noisy_demo([NoiseModel(photons=100.0, read=0.03)])
    y = torch.from_numpy(capture.measurements()[0]).float()
    op = Cacti(torch.from_numpy(capture.mask_float()))
    assert DeGapSettings().estimate_error == ESTIMATE_ERROR > 0  # DE-GAP's default is the relaxed step
    exact = DeGapSolver(op, y, DeGapSettings(model="degap-default", estimate_error=0.0, noisy_tol=0.0))
    assert exact.rho == 0.0 and exact.noise_y is None and exact.notes == []  # nothing estimated for a plain model
    relaxed = DeGapSolver(op, y, DeGapSettings(model="degap-default", estimate_error=10.0))
    assert relaxed.noise_y > 0
    assert relaxed.rho == pytest.approx(relaxation(relaxed.noise_y, 10 / 255))
    assert "relaxed data step" in relaxed.notes[0] and "estimated from the capture" in relaxed.notes[0]
    given = DeGapSolver(op, y, DeGapSettings(model="degap-default", estimate_error=10.0, noise=20.0))
    assert given.rho == pytest.approx((20 / 10) ** 2) and "given" in given.notes[0]
    # the point of it: the noise is not copied into every frame
    results = {}
    for error in (0.0, 10.0):
        final = execute(Job(capture, "de-gap", {"model": "degap-default", "estimate_error": error, "max_iter": 60,
                                                     "noisy_tol": 0.0},
                            device="cpu"))
        results[error] = final.results[0]
    assert results[10.0].psnr > results[0.0].psnr + 1.0, {k: r.psnr for k, r in results.items()}
    assert results[0.0].notes == [] and "relaxed data step" in results[10.0].notes[0]


def test_notes_reach_the_event_stream_and_the_report_and_batches_keep_each_noise() -> None:
    capture = _noisy_demo([NoiseModel(photons=3000.0, read=0.005), NoiseModel(photons=100.0, read=0.03)])
    runs = {}
    for batch in (1, 2):
        events: list = []
        final = execute(Job(capture, "de-gap", {"model": "degap-default", "estimate_error": 10.0, "max_iter": 30,
                                                "tol": 1e-3}, device="cpu", batch=batch), callback=events.append)
        runs[batch] = final
        notices = [e.message for e in events if isinstance(e, NoticeEvent)]
        assert sum("relaxed data step" in m for m in notices) == 2, notices
        report = final.report()
        assert all("relaxed data step" in m["notes"][0] for m in report["measurements"])
    rhos = [float(r.notes[0].split("rho = ")[1].split()[0]) for r in runs[2].results]
    assert rhos[1] > 4 * rhos[0]  # the noisier measurement is relaxed more, also inside one batch
    assert [r.notes for r in runs[2].results] == [r.notes for r in runs[1].results]
    assert [r.iterations for r in runs[2].results] == [r.iterations for r in runs[1].results]
    np.testing.assert_allclose(runs[2].reconstruction, runs[1].reconstruction, atol=1e-4)
    assert [r.psnr for r in runs[2].results] == pytest.approx([r.psnr for r in runs[1].results], abs=1e-3)


def test_de_rnn_takes_the_relaxed_step_and_an_iterate_without_it_still_runs() -> None:
    import torch.nn as nn

    from sci_viewer.algorithms.dernn import DeRnnSettings, DeRnnSolver
    from sci_viewer.models import RECURRENT, equilibrium_map

    capture = _noisy_demo([NoiseModel(photons=100.0, read=0.03)])
    y = torch.from_numpy(capture.measurements()[0]).float()
    op = Cacti(torch.from_numpy(capture.mask_float()))
    solver = DeRnnSolver(op, y, DeRnnSettings(estimate_error=10.0))
    assert solver.rho == pytest.approx(relaxation(solver.noise_y, 10 / 255)) and solver.rho > 0
    assert "relaxed data step" in solver.notes[0]
    x = solver.start
    expected = solver.net(x, op.project(x, y, solver.rho), op.mask.expand_as(x)).clamp(0, 1) if solver.s.clip else \
        solver.net(x, op.project(x, y, solver.rho), op.mask.expand_as(x))
    torch.testing.assert_close(solver.map(x), expected)

    class OldIterate(nn.Module):  # a plugin's recurrent model written before the relaxed step
        kind = RECURRENT

        def iterate(self, x, op, y):  # noqa: ANN001, ANN202
            return op.project(x, y)

    torch.testing.assert_close(equilibrium_map(OldIterate(), op, y)(x), op.project(x, y))
    old = DeRnnSolver(op, y, DeRnnSettings(estimate_error=10.0), net=OldIterate())  # runs, exact, and says so
    assert old.rho == 0.0 and "takes no relaxed data step" in old.notes[-1]
    torch.testing.assert_close(old.map(x), op.project(x, y))
