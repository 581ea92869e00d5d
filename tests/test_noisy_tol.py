"""DE-GAP's tolerance on a noisy measurement (``noisy_tol``, :func:`sci_viewer.noise.noise_tolerance`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sci_viewer.algorithms.deq import DeGapSettings
from sci_viewer.capture import Capture
from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, execute
from sci_viewer.noise import noise_tolerance
from sci_viewer.training.sim import NoiseModel


@pytest.mark.parametrize("sigma, expected", [(0, 2e-5), (10, 2e-5), (20, 6e-5), (30, 1e-4), (90, 1e-4)])
def test_the_tolerance_rises_with_the_noise_from_10_to_30(sigma, expected):
    assert noise_tolerance(2e-5, 1e-4, sigma / 255) == pytest.approx(expected)


def test_tol_0_and_a_noisy_tol_at_or_below_tol_leave_tol_alone():
    assert noise_tolerance(0.0, 1e-4, 0.5) == 0.0  # 0: run to max_iter
    assert noise_tolerance(1e-3, 1e-4, 0.5) == 1e-3
    assert noise_tolerance(2e-5, 0.0, 0.5) == 2e-5  # noisy_tol 0: off
    assert DeGapSettings().noisy_tol == 1e-4 and DeGapSettings().tol == 2e-5


def _two_noises() -> Capture:
    """Measurement 0 as simulated (noiseless), measurement 1 with strong shot and read noise."""
    base = demo_capture(size=128, n_meas=2)
    rng = np.random.default_rng(3)
    meas = base.meas.astype(np.float64)
    meas[1] = NoiseModel(photons=100.0, read=0.03).apply(rng, meas[1])
    return dataclasses.replace(base, meas=meas.astype(np.float32))


def test_a_noisy_measurement_is_solved_to_the_looser_tol_and_says_so_alone_and_in_a_batch():
    capture = _two_noises()
    runs = {batch: execute(Job(capture, "de-gap", {"max_iter": 60}, device="cpu", batch=batch)) for batch in (1, 2)}
    clean, noisy = runs[1].results
    assert not any("tol" in n for n in clean.notes)  # noiseless: DE-GAP's tol, 2e-5
    assert any(n.startswith("tol 0.0001 instead of 2e-05") for n in noisy.notes), noisy.notes
    assert noisy.converged and 2e-5 < noisy.final_residual <= 1e-4
    # the event stream says it (the app's time-left estimate extrapolates to it), alone and in a batch
    for run in runs.values():
        assert [e.tol for e in run.trace if e.position == 1] == pytest.approx([1e-4] * noisy.iterations)
        assert {e.tol for e in run.trace if e.position == 0} == {2e-5}
    assert clean.final_residual <= 2e-5 or not clean.converged
    # one batched solve keeps each measurement's own tol: the same iterations and estimates as alone
    assert [r.iterations for r in runs[2].results] == [r.iterations for r in runs[1].results]
    assert [r.converged for r in runs[2].results] == [r.converged for r in runs[1].results]
    np.testing.assert_allclose(runs[2].reconstruction, runs[1].reconstruction, atol=1e-4)
    # noisy_tol 0: the noisy measurement too is solved to tol
    strict = execute(Job(capture, "de-gap", {"max_iter": 60, "noisy_tol": 0.0}, device="cpu", measurements=[1]))
    assert strict.results[0].iterations > noisy.iterations
    assert not any("instead of" in n for n in strict.results[0].notes)
