"""sci-viewer bench generalization on a tiny grid (held-out DAVIS frames, 64 px)."""

from __future__ import annotations

import argparse
import json

import pytest

from sci_viewer.benchmarks import generalization
from sci_viewer.benchmarks._held_out import SimConfig, make_capture
from sci_viewer.training.data import default_root


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    generalization.add_arguments(p)
    return p.parse_args(list(argv))


def test_quick_grid_covers_every_b_kind_noise_scene_and_size() -> None:
    configs = generalization.grid(_args("--quick"))
    assert {c.frames for c in configs} == set(generalization.FRAMES)
    assert {c.kind for c in configs} == {"iid", "translating", "grey", "sparse"}
    assert {c.noise for c in configs} == {"none", "moderate", "strong"}
    assert {c.size for c in configs} == set(generalization.SIZES)
    assert len(generalization.grid(_args())) == 3 * 2 * 4 * 4 * 3


@pytest.mark.skipif(not (default_root() / "bmx-trees").is_dir(), reason="shared DAVIS frames not available")
def test_tiny_grid_table(tmp_path, capsys) -> None:
    out = tmp_path / "g.json"
    args = _args("--scenes", "bmx-trees", "--sizes", "64", "--frames", "8", "--kinds", "iid,grey",
                 "--noise", "strong", "--max-iter", "3", "--gap-tv-iterations", "3", "--json", str(out))
    assert generalization.run(args) == 0
    table = json.loads(out.read_text())
    assert len(table["rows"]) == 2 and table["machine"]["date"]
    for row in table["rows"]:
        assert set(row["results"]) == set(generalization.ALGOS)
        for algo, cells in row["results"].items():
            assert set(cells) == set(generalization.COLUMNS)
            assert cells["psnr"] > 5 and cells["iterations"] >= 1 and cells["seconds_per_measurement"] > 0
            if algo == "gap-tv":
                assert cells["reached_tol"] is None
            else:
                assert isinstance(cells["reached_tol"], bool) and cells["reached_tol"] is False  # 3 iterations
    assert "mean" in capsys.readouterr().out


@pytest.mark.skipif(not (default_root() / "kite-surf").is_dir(), reason="shared DAVIS frames not available")
def test_noisy_capture_has_negative_pixels_and_is_reproducible() -> None:
    config = SimConfig("kite-surf", 64, 10, "sparse", "strong")
    a, b = make_capture(config), make_capture(config)
    assert (a.meas < 0).any() and (a.meas == b.meas).all()
    assert a.mask.shape == (10, 64, 64) and a.truth.shape == (1, 10, 64, 64)


@pytest.mark.skipif(not (default_root() / "bmx-trees").is_dir(), reason="shared DAVIS frames not available")
def test_models_and_settings_as_columns_and_pnp_gap(tmp_path) -> None:
    """``--algos de-gap:model=M`` puts a model beside the default one, ``pnp-gap:sigmas=[..]`` a schedule;
    PnP-GAP keeps its own iteration count."""
    assert generalization.entries("gap-tv,pnp-gap:sigmas=[50, 25]:iterations=4,de-gap") == [
        "gap-tv", "pnp-gap:sigmas=[50, 25]:iterations=4", "de-gap"]
    assert generalization.split_entry("pnp-gap:sigmas=[50, 25]:iterations=4") == (
        "pnp-gap", {"sigmas": [50, 25], "iterations": 4})
    with pytest.raises(SystemExit, match="ALGO:KEY=VALUE"):
        generalization.split_entry("de-gap:degap-default")
    out = tmp_path / "g.json"
    args = _args("--scenes", "bmx-trees", "--sizes", "64", "--frames", "8", "--kinds", "iid", "--noise", "none",
                 "--algos", "gap-tv,de-gap,de-gap:model=dernn-default", "--max-iter", "3",
                 "--gap-tv-iterations", "3", "--json", str(out))
    with pytest.raises(Exception, match="DE-GAP"):  # a recurrent model is not a DE-GAP denoiser: named
        generalization.run(args)
    args.algos = generalization.entries("gap-tv,de-gap,de-gap:model=degap-default,pnp-gap,pnp-gap:sigmas=[25]:iterations=7")
    assert generalization.run(args) == 0
    (row,) = json.loads(out.read_text())["rows"]
    cells = row["results"]
    assert list(cells) == args.algos
    assert cells["de-gap:model=degap-default"]["psnr"] == pytest.approx(cells["de-gap"]["psnr"])  # the default model
    assert cells["pnp-gap"]["reached_tol"] is None and cells["pnp-gap"]["iterations"] == 40  # its schedule
    assert cells["pnp-gap:sigmas=[25]:iterations=7"]["iterations"] == 7
    assert cells["de-gap"]["iterations"] == 3
