"""``sci-viewer bench tol-drift``: PSNR(K) minus PSNR at tol, on held-out DAVIS crops."""

from __future__ import annotations

import json

import pytest

from sci_viewer.benchmarks.tol_drift import drift_rows


def test_drift_rows_take_the_first_iteration_at_tol():
    psnrs = [20.0, 25.0, 26.0, 26.5, 26.4]
    residuals = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
    rows = {r["tol"]: r for r in drift_rows(psnrs, residuals, [1e-2, 1e-4, 1e-9])}
    assert rows[1e-2]["k"] == 2 and rows[1e-2]["diff_db"] == pytest.approx(1.4)
    assert rows[1e-4]["k"] == 4 and rows[1e-4]["diff_db"] == pytest.approx(-0.1)
    assert rows[1e-9]["k"] is None and rows[1e-9]["diff_db"] is None


def test_bench_tol_drift_runs_on_held_out_crops(shared_data, tmp_path, capsys):
    from sci_viewer.cli import main

    out = tmp_path / "drift.json"
    assert main(["bench", "tol-drift", "--k", "4", "--per-scene", "1", "--size", "48", "--tols", "0.5,1e-9",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held-out DAVIS crops" in printed and "bmx-trees" in printed
    report = json.loads(out.read_text())
    assert len(report["crops"]) == 3
    loose, never = report["summary"]
    assert loose["reached"] == 3 and loose["mean_k"] >= 1
    assert never["reached"] == 0 and never["worst_abs_diff_db"] is None
    for crop in report["crops"]:
        first = crop["tols"][0]
        assert first["diff_db"] == pytest.approx(crop["psnr_k"] - first["psnr_at_tol"])


@pytest.mark.parametrize("flags, message", [
    (["--tols", "abc"], "comma-separated numbers"),
    (["--tols", "1e-4,0"], "positive tolerances"),
    (["--per-scene", "0"], "whole number >= 1"),
])
def test_bench_tol_drift_refuses_bad_arguments(flags, message, capsys):
    from sci_viewer.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "tol-drift", *flags])
    assert message in capsys.readouterr().err


def test_bench_tol_drift_says_when_crops_do_not_fit(shared_data, capsys):
    from sci_viewer.cli import main

    assert main(["bench", "tol-drift", "--size", "4096", "--k", "1"]) != 0
    assert "do not fit scene" in capsys.readouterr().err
