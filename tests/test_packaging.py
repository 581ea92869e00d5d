"""The package as users install it: a wheel and sdist that carry the models, cards, training configs
and bundled plugins; an installed copy that finds them outside the checkout; user and environment
folders for models and plugins; plugin packages by entry point; version and provenance."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

import sci_viewer
from sci_viewer import locations, plugins
from sci_viewer.models import list_models, model_record

REPO = Path(__file__).resolve().parent.parent


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _run(args: list[str], cwd: Path, site: Path, tmp: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from ``cwd`` with ``site`` first on the path and an empty user folder."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SCI_MODELS_DIR", "SCI_PLUGINS_DIR",
                                                                 "SCI_VIEWER_PLUGINS")}
    environ.update(PYTHONPATH=str(site), XDG_DATA_HOME=str(tmp / "xdg"), OMP_NUM_THREADS="1", **env)
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel built from it, and the wheel installed (``--target``) outside the checkout."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_dist.py"), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    sdist, wheel = (Path(p) for p in done.stdout.split())
    site = out / "site"
    _pip("install", "--no-deps", "--target", str(site), str(wheel))
    return {"sdist": sdist, "wheel": wheel, "site": site}


def _shipped() -> list[str]:
    """The repository's resource and plugin files, as paths relative to the repository."""
    files = [*REPO.glob("resources/models/*.pt"), *REPO.glob("resources/models/*.md"),
             *REPO.glob("resources/train/*.yaml"), *REPO.glob("plugins/*.py"), REPO / "plugins" / "README.md"]
    return sorted(str(p.relative_to(REPO)) for p in files)


def test_the_wheel_and_sdist_carry_models_cards_configs_plugins_and_every_module(dist):
    shipped = _shipped()
    assert {"resources/models/degap-default.pt", "resources/models/dernn-default.md",
            "resources/train/dernn-default.yaml", "plugins/gap_median.py"} <= set(shipped)
    in_wheel = set(zipfile.ZipFile(dist["wheel"]).namelist())
    as_installed = {f.replace("resources/", "sci_viewer/resources/", 1).replace("plugins/", "sci_viewer/bundled_plugins/", 1)
                    for f in shipped}
    assert as_installed - in_wheel == set()
    modules = {str(p.relative_to(REPO)) for p in (REPO / "sci_viewer").rglob("*.py")}
    assert modules - in_wheel == set()
    with tarfile.open(dist["sdist"]) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert set(shipped) | {"setup.py", "pyproject.toml", "examples/plugin-package/pyproject.toml"} <= in_sdist


def test_the_installed_wheel_finds_its_models_and_plugins_outside_the_checkout(dist, tmp_path):
    site = dist["site"]
    code = ("import json, sci_viewer\nfrom sci_viewer import locations, plugins\n"
            "from sci_viewer.algorithms import algorithm_names, load_builtin\n"
            "from sci_viewer.models import list_models\nload_builtin()\n"
            "print(json.dumps({'package': sci_viewer.__file__, 'resources': str(locations.resources_dir()),\n"
            "  'models': [[m.name, m.source, str(m.path)] for m in list_models()],\n"
            "  'plugins': [[p.name, p.source, p.location] for p in plugins.loaded_plugins],\n"
            "  'algorithms': algorithm_names()}))\n")
    found = json.loads(_run(["-c", code], tmp_path, site, tmp_path).stdout)
    assert found["package"].startswith(str(site)) and found["resources"].startswith(str(site))
    models = {name: (source, path) for name, source, path in found["models"]}
    for name in ("degap-default", "dernn-default"):
        assert models[name][0] == "bundled" and models[name][1].startswith(str(site))
    assert ["gap_median", "bundled", str(site / "sci_viewer" / "bundled_plugins" / "gap_median.py")] in found["plugins"]
    assert {"gap-tv", "pnp-gap", "de-gap", "de-rnn", "gap-median"} <= set(found["algorithms"])


@pytest.mark.parametrize("algo,model", [("de-gap", "degap-default"), ("de-rnn", "dernn-default")])
def test_the_installed_wheel_reconstructs_the_demo_and_records_the_weights(dist, tmp_path, algo, model):
    out = tmp_path / "r.npz"
    _run(["-m", "sci_viewer.cli", "reconstruct", "--algo", algo, "--measurements", "0", "--max-iter", "2",
          "--quiet", "--out", str(out)], tmp_path, dist["site"], tmp_path)
    config = yaml.safe_load(Path(str(out) + ".yaml").read_text())
    record = config["provenance"]["model"]
    if algo == "de-gap":  # DE-GAP's default model 'auto' records both candidates; the demo is clean
        assert record["name"] == "auto" and set(record["chooses"]) == {"degap-default", "degap-noise"}
        record = record["chooses"][model]
    weights = dist["site"] / "sci_viewer" / "resources" / "models" / f"{model}.pt"
    assert record["file"] == str(weights) and record["source"] == "bundled"
    assert record["sha256"] == hashlib.sha256((REPO / "resources" / "models" / f"{model}.pt").read_bytes()).hexdigest()
    assert config["provenance"]["sci_viewer"] == sci_viewer.__version__


def test_the_example_plugin_package_installs_and_loads_by_entry_point(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO / "examples" / "plugin-package", source)
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(source))
    # the checkout's sci_viewer (on the path already) with the plugin package's folder added
    listing = json.loads(_run(["-m", "sci_viewer.cli", "plugins", "--json"], tmp_path, site, tmp_path).stdout)
    (entry,) = [p for p in listing["plugins"] if p["source"] == "entry point"]
    assert entry["name"] == "gap-blur" and entry["registered"] == ["algorithm gap-blur"] and entry["error"] is None
    assert "sci-viewer-example-plugin 0.1.0" in entry["location"]
    report = tmp_path / "r.json"
    _run(["-m", "sci_viewer.cli", "reconstruct", "--algo", "gap-blur", "--measurements", "0", "--iters", "3",
          "--quiet", "--report", str(report)], tmp_path, site, tmp_path)
    assert json.loads(report.read_text())["algo"] == "gap-blur"


def _copy_model(src: str, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(REPO / "resources" / "models" / f"{src}.pt", folder / f"{name}.pt"))


def test_user_and_env_model_folders_add_to_the_bundled_models(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SCI_MODELS_DIR", str(tmp_path / "env"))
    user = locations.user_data_dir() / "models"
    assert user == tmp_path / "xdg" / "sci-viewer" / "models"
    _copy_model("dernn-default", user, "mine")
    _copy_model("dernn-default", user, "degap-default")  # cannot shadow the bundled model
    env_model = _copy_model("dernn-default", tmp_path / "env", "cluster")
    models = {m.name: m for m in list_models()}
    assert models["mine"].source == "user" and models["cluster"].source == "env"
    assert models["degap-default"].source == "bundled" and models["degap-default"].arch != "dernn"
    record = model_record("cluster")
    assert record["source"] == "env" and record["sha256"] == hashlib.sha256(env_model.read_bytes()).hexdigest()


def test_user_and_env_plugin_folders_are_loaded_with_their_source(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("SCI_PLUGINS_DIR", str(tmp_path / "env"))
    monkeypatch.setattr(plugins, "loaded_plugins", [])
    for folder, name in ((locations.user_data_dir() / "plugins", "from_user_dir"), (tmp_path / "env", "from_env_dir")):
        folder.mkdir(parents=True)
        (folder / f"{name}.py").write_text("VALUE = 1\n")
    loaded = plugins.load_plugins()  # the bundled ones too, when nothing loaded them yet in this process
    assert [name for name in loaded if name.startswith("from_")] == ["from_user_dir", "from_env_dir"]
    sources = {p.name: p.source for p in plugins.loaded_plugins}
    assert sources["from_user_dir"] == "user" and sources["from_env_dir"] == "env"


def test_version_flag_and_metadata_agree(capsys):
    import importlib.metadata

    from sci_viewer.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"sci-viewer {sci_viewer.__version__} ({Path(sci_viewer.__file__).parent})\n"
    assert importlib.metadata.version("sci-viewer") == sci_viewer.__version__
