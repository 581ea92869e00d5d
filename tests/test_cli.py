"""The command line, end to end (in-process through ``sci_viewer.cli.main``)."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import yaml

from sci_viewer.cli import main


def test_info_on_every_shared_file(shared_data, capsys):
    for path in sorted((shared_data / "benchmark").glob("*.mat")) + sorted((shared_data / "real").glob("*.mat")):
        assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "B = 8" in out and "ground truth   yes" in out
    assert "a reconstruction needs one" in out  # the real capture without its mask


def test_info_json(shared_data, capsys):
    assert main(["info", "--json", str(shared_data / "benchmark" / "traffic48_cacti.mat")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["measurements"] == 6 and d["frames_per_measurement"] == 8 and d["frame_size"] == [256, 256]
    assert d["mask"]["binary"] and d["mask"]["zero_exposure_pixels"] == 235


def test_gap_tv_quality_on_runner(shared_data, tmp_path, capsys):
    report = tmp_path / "r.json"
    code = main(["reconstruct", str(shared_data / "benchmark" / "runner40_cacti.mat"), "--algo", "gap-tv",
                 "--measurements", "0", "--device", "cpu", "--report", str(report), "--quiet"])
    assert code == 0
    r = json.loads(report.read_text())
    assert r["algo"] == "gap-tv" and r["device"] == "cpu"
    assert [m["index"] for m in r["measurements"]] == [0]
    assert r["mean_psnr"] >= 29.71  # the classical reference gives 29.81 dB
    assert r["measurements"][0]["iterations"] == 40 and 0.8 < r["mean_ssim"] < 1


def test_reconstruct_demo_exports_video_and_config(tmp_path):
    out = tmp_path / "demo.mp4"
    metrics = tmp_path / "m.csv"
    assert main(["reconstruct", "--iters", "4", "--device", "cpu", "--out", str(out), "--metrics", str(metrics),
                 "--quiet"]) == 0
    frames = np.stack(list(iio.imiter(out)))
    assert frames.shape[0] == 16 and frames.shape[1:3] == (256, 256)
    config = yaml.safe_load((tmp_path / "demo.mp4.yaml").read_text())
    assert config["algo"] == "gap-tv" and config["settings"]["iterations"] == 4
    assert len(metrics.read_text().strip().splitlines()) == 1 + 2 * 4


def test_a_number_in_exponent_form_is_a_number(tmp_path):
    """YAML 1.1 reads 5e-2 (no decimal point) as text; --set and run configurations take it as the number."""
    out = tmp_path / "demo.npz"
    assert main(["reconstruct", "--iters", "2", "--set", "tv_weight=5e-2", "--measurements", "0", "--quiet",
                 "--out", str(out)]) == 0
    config = yaml.safe_load((tmp_path / "demo.npz.yaml").read_text())
    assert config["settings"]["tv_weight"] == 0.05
    replay = tmp_path / "run.yaml"
    replay.write_text("algo: de-gap\nsettings: {tol: 1e-3, max_iter: 2}\nmeasurements: [0]\n")
    assert main(["reconstruct", "--config", str(replay), "--quiet", "--out", str(tmp_path / "again.npz")]) == 0
    assert yaml.safe_load((tmp_path / "again.npz.yaml").read_text())["settings"]["tol"] == 1e-3


def test_missing_mask_is_a_clear_error(shared_data, capsys):
    code = main(["reconstruct", str(shared_data / "real" / "meas_waterBalloon_cr_10.mat"), "--quiet"])
    assert code == 2
    assert "has no mask" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["reconstruct", "--set", "bogus=1"], "KEY one of"),
    (["reconstruct", "--tol", "1e-3"], "does not apply to GAP-TV"),
    (["reconstruct", "--measurements", "7"], "out of range"),
    (["reconstruct", "--measurements", "a,b"], "not a list"),
    (["reconstruct", "--measurements", "0,0"], "Measurement 0 is listed more than once"),
    (["reconstruct", "--measurements", "1-0"], "runs backwards"),
    (["reconstruct", "/nonexistent/file.mat"], "file.mat"),
    (["reconstruct", "--set", "iterations=abc"], "iterations must be a whole number, got 'abc'"),
    (["reconstruct", "--set", "tv_weight=.nan"], "tv_weight must be a finite number"),
    (["reconstruct", "--set", "accelerate=maybe"], "accelerate must be true or false"),
    (["reconstruct", "--algo", "de-gap", "--tol", "nan"], "tol must be a finite number"),
    (["reconstruct", "--algo", "de-gap", "--tol", "-1"], "tol must be 0 or more"),
    (["reconstruct", "--device", "tpu"], "Unknown device 'tpu'"),
    (["reconstruct", "--iters", "0"], "GAP-TV iterations must be 1 or more, got 0"),
    (["reconstruct", "--set", "tv_weight=-1"], "tv_weight must be 0 or more"),
    (["reconstruct", "--set", "step=0"], "step must be more than 0"),
    (["reconstruct", "--algo", "de-gap", "--set", "beta=3"], "beta must be 2 or less"),
    (["reconstruct", "--config", "/nonexistent/run.yaml"], "Cannot read the run configuration"),
    (["train", "--config", "/nonexistent/train.yaml"], "does not exist"),
])
def test_bad_arguments_name_the_problem(argv, message, capsys):
    assert main(argv + ["--quiet"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("algo: [gap-tv", "is not valid YAML"),
    ("- gap-tv", "must be a mapping"),
    ("algo: gap-tv\nsettings: 3", "'settings'"),
    ("runs: [{algo: gap-tv}, {algo: de-gap}]", "describes 2 runs"),
    ("algo: gap-tv\ncapture: {source: /nowhere/cap.mat}", "was saved for the capture '/nowhere/cap.mat'"),
    ("algo: gap-tv\ncapture: {scale: huge}", "gives the scale 'huge'"),
])
def test_bad_run_configurations_are_named(tmp_path, text, message, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    assert main(["reconstruct", "--config", str(cfg), "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_output_is_refused_before_the_run(tmp_path, capsys):
    report = tmp_path / "report.json"
    for out, fps, message in (("r.xyz", "10", "unknown format '.xyz'"), ("r.mp4", "0", "Frame rate must be positive"),
                              ("missing/r.mp4", "10", "does not exist")):
        assert main(["reconstruct", "--iters", "2", "--report", str(report), "--out", str(tmp_path / out),
                     "--fps", fps, "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not report.exists()  # refused before anything ran or was written


def test_a_saved_configuration_replays_its_run(shared_data, tmp_path, capsys):
    cap = shared_data / "benchmark" / "drop40_cacti.mat"
    first = tmp_path / "first.npz"
    assert main(["reconstruct", str(cap), "--measurements", "1", "--iters", "3", "--scale", "max",
                 "--device", "cpu", "--out", str(first), "--quiet"]) == 0
    before = capsys.readouterr().out.splitlines()[0].split(" it ")[0]  # PSNR, SSIM, iterations (not the time)
    with np.load(first) as saved:  # the file itself says how it was made, as the app's exports do
        assert json.loads(str(saved["metadata_json"]))["config"]["settings"]["iterations"] == 3
    # no capture argument: the configuration's capture, measurements, scale and settings
    assert main(["reconstruct", "--config", str(first) + ".yaml", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split(" it ")[0] == before
    # a flag overrides the configuration; another algorithm does not take its settings
    assert main(["reconstruct", "--config", str(first) + ".yaml", "--algo", "pnp-gap", "--iters", "1",
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "replaces the configuration's gap-tv" in captured.err and "1 it" in captured.out


def test_info_on_a_file_without_known_names_keeps_stdout_clean(tmp_path, capsys):
    import scipy.io

    path = tmp_path / "novars.mat"
    scipy.io.savemat(path, {"zzz": np.ones((8, 8, 3)), "qqq": np.ones((8, 8, 2))})
    assert main(["info", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "--meas-var NAME" in captured.err
    report = json.loads(captured.out)  # still valid JSON: the error and what the file holds
    assert "no measurement" in report["error"] and report["file"] is not None
    assert main(["info", str(path), "--meas-var", "zzz", "--mask-var", "qqq"]) == 0


def test_exports_do_not_replace_what_is_there(tmp_path, capsys):
    notes = tmp_path / "results"
    notes.mkdir()
    (notes / "notes.txt").write_text("important")
    assert main(["reconstruct", "--iters", "2", "--out", str(tmp_path / "results.png"), "--quiet"]) == 2
    assert "a folder holding other files" in capsys.readouterr().err
    assert (notes / "notes.txt").read_text() == "important"
    out = tmp_path / "r.npz"
    assert main(["reconstruct", "--iters", "2", "--out", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    assert main(["reconstruct", "--iters", "3", "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["reconstruct", "--iters", "3", "--out", str(out), "--overwrite", "--quiet"]) == 0
    frames = tmp_path / "f.png"
    assert main(["reconstruct", "--iters", "2", "--out", str(frames), "--quiet"]) == 0
    assert main(["reconstruct", "--iters", "2", "--out", str(frames), "--overwrite", "--quiet"]) == 0  # its own frames
