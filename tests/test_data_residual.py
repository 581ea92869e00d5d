"""The measurement residual ||y - A x|| / ||y||: computed by the engine for every algorithm, written
by the CLI's per-iteration CSV and JSON report."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from sci_viewer.engine import IterationEvent, Job, execute
from sci_viewer.metrics import data_residual


def _direct(capture, index: int, estimate: np.ndarray) -> float:
    y = capture.measurements([index])[0].astype(np.float64)
    ax = (capture.mask_float().astype(np.float64) * estimate).sum(0)
    return float(np.linalg.norm(y - ax) / np.linalg.norm(y))


def test_data_residual_of_a_consistent_estimate_is_zero_and_scales():
    rng = np.random.default_rng(0)
    y = rng.random((8, 8)).astype(np.float32)
    assert data_residual(y, y) == 0.0
    assert data_residual(y, 0.5 * y) == pytest.approx(0.5, rel=1e-6)
    assert data_residual(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0


@pytest.mark.parametrize("algo, settings", [("gap-tv", {"iterations": 6}), ("de-rnn", {"max_iter": 3, "tol": 1e-12})])
def test_every_iteration_and_result_carry_the_data_residual(real_like, algo, settings):
    cap = replace(real_like, truth=None)  # a real capture: nothing but the measurement to judge by
    final = execute(Job(cap, algo, settings, device="cpu"))
    trace = [e for e in final.trace if isinstance(e, IterationEvent)]
    assert trace and all(e.data_residual is not None and 0 < e.data_residual < np.inf for e in trace)
    result = final.results[0]
    assert result.final_data_residual == pytest.approx(_direct(cap, 0, result.estimate), rel=1e-4)
    assert result.final_data_residual == pytest.approx(trace[-1].data_residual, rel=1e-4)
    assert final.report()["measurements"][0]["final_data_residual"] == result.final_data_residual


def test_gap_tv_agrees_more_with_its_measurement_as_it_iterates(small_demo):
    final = execute(Job(small_demo, "gap-tv", {"iterations": 20}, device="cpu", measurements=[0]))
    dr = [e.data_residual for e in final.trace]
    assert dr[-1] < 0.5 * dr[0]


def test_untracked_metrics_have_no_data_residual(small_demo):
    final = execute(Job(small_demo, "gap-tv", {"iterations": 2}, device="cpu", measurements=[0], track_metrics=False))
    assert all(e.data_residual is None for e in final.trace)
    assert final.results[0].final_data_residual is not None  # the result still says how it agrees


def test_cli_writes_data_residual_column_and_report_field(tmp_path):
    from sci_viewer.cli import main

    metrics, report = tmp_path / "m.csv", tmp_path / "r.json"
    assert main(["reconstruct", "--iters", "3", "--device", "cpu", "--measurements", "0",
                 "--metrics", str(metrics), "--report", str(report), "--quiet"]) == 0
    rows = list(csv.DictReader(metrics.open()))
    assert len(rows) == 3 and all(0 < float(r["data_residual"]) < np.inf for r in rows)
    m = json.loads(report.read_text())["measurements"][0]
    assert m["final_data_residual"] == pytest.approx(float(rows[-1]["data_residual"]), rel=1e-6)
