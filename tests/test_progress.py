"""The time-left estimator (sci_viewer.progress): iteration rate and residual trend, no Qt."""

from __future__ import annotations

import math

import pytest

from sci_viewer.progress import TimeEstimator, format_seconds, iterations_to_tol


def test_fixed_count_solver_has_cap_minus_k_left_at_its_rate():
    est = TimeEstimator(n_measurements=3, cap=40)
    for k in range(1, 11):
        est.update(0, k, residual=0.1, seconds=1.0 + 0.5 * k)  # 1 s start-up, then 0.5 s an iteration
    e = est.estimate()
    assert e.basis == "count" and e.iterations_left == 30
    assert e.measurement_s == pytest.approx(15.0)
    assert e.run_s == pytest.approx(15.0 + 2 * 40 * 0.5)


def test_fixed_point_solver_extrapolates_its_residual_to_tol():
    est = TimeEstimator(n_measurements=1, cap=500, tol=1e-5)
    for k in range(1, 21):  # residual 0.1 * 0.8^k reaches 1e-5 at k = log(1e-4) / log(0.8) ~ 41.3
        est.update(0, k, residual=0.1 * 0.8 ** k, seconds=0.2 * k)
    e = est.estimate()
    expected = math.ceil(math.log(1e-4) / math.log(0.8)) - 20
    assert e.basis == "trend" and e.iterations_left == expected
    assert e.measurement_s == pytest.approx(expected * 0.2)
    assert e.run_s == pytest.approx(e.measurement_s)


def test_the_tol_a_solver_reports_replaces_the_settings_one():
    """DE-GAP solves a noisy measurement to a looser tol (noisy_tol): the estimate extrapolates to it."""
    est = TimeEstimator(n_measurements=1, cap=500, tol=1e-5)
    for k in range(1, 21):
        est.update(0, k, residual=0.1 * 0.8 ** k, seconds=0.2 * k, tol=1e-4)
    assert est.estimate().iterations_left == math.ceil(math.log(1e-3) / math.log(0.8)) - 20
    count = TimeEstimator(n_measurements=1, cap=40)  # a fixed iteration count has no tol to replace
    count.update(0, 1, residual=0.5, seconds=0.1, tol=1e-4)
    assert count.estimate().basis == "count"


def test_a_residual_that_does_not_fall_is_bounded_by_the_cap():
    est = TimeEstimator(n_measurements=1, cap=50, tol=1e-5)
    for k in range(1, 11):
        est.update(0, k, residual=1e-2 * (1 + 0.1 * (k % 2)), seconds=float(k))
    e = est.estimate()
    assert e.basis == "cap" and e.iterations_left == 40
    assert e.text().startswith("≤ 40 s")


def test_extrapolation_never_goes_beyond_the_cap():
    est = TimeEstimator(n_measurements=1, cap=30, tol=1e-12)
    for k in range(1, 11):
        est.update(0, k, residual=0.5 * 0.95 ** k, seconds=float(k))
    e = est.estimate()
    assert e.iterations_left == 20 and e.basis == "cap"


def test_later_measurements_take_what_finished_ones_took():
    est = TimeEstimator(n_measurements=3, cap=100, tol=1e-4)
    for k in range(1, 31):
        est.update(0, k, residual=0.9 ** k, seconds=0.1 * k)
    est.finish(30, 3.0)
    for k in range(1, 6):
        est.update(1, k, residual=0.5 * 0.5 ** k, seconds=0.1 * k)
    e = est.estimate()
    assert e.run_s == pytest.approx(e.measurement_s + 3.0)


def test_before_the_first_iteration_nothing_is_known():
    e = TimeEstimator(2, 10).estimate()
    assert e.measurement_s is None and e.run_s is None and "estimating" in e.text()


def test_settings_choose_count_or_trend():
    assert TimeEstimator.for_settings(1, {"iterations": 40}).tol is None
    fp = TimeEstimator.for_settings(2, {"max_iter": 100, "tol": 1e-4})
    assert fp.cap == 100 and fp.tol == 1e-4 and fp.n == 2
    assert TimeEstimator.for_settings(1, {"max_iter": 100, "tol": 0.0}).tol is None  # tol 0: runs to the cap


def test_trend_needs_falling_points():
    assert iterations_to_tol([1, 2, 3], [1e-1, 1e-2, 1e-3], 1e-5) is None  # too few points
    assert iterations_to_tol([1, 2, 3, 4], [1e-1, 1e-2, 1e-3, 1e-4], 1e-6) == pytest.approx(6.0)
    assert iterations_to_tol([1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0], 1e-6) is None


def test_format_seconds():
    assert [format_seconds(s) for s in (4.4, 125, 3780)] == ["4 s", "2 min 5 s", "1 h 3 min"]
