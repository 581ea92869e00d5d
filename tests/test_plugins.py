from sci_viewer.algorithms import algorithm_names
from sci_viewer.engine import Job, execute
from sci_viewer import plugins


def test_example_plugin_registers_and_runs(small_demo):
    assert "gap-median" in algorithm_names()
    final = execute(Job(small_demo, "gap-median", {"iterations": 5}, device="cpu", measurements=[0]))
    assert len(final.trace) == 5
    assert final.trace[-1].psnr > final.trace[0].psnr + 1


def test_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "fine.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("SCI_VIEWER_PLUGINS", str(tmp_path))
    loaded = plugins.load_plugins()
    assert loaded == ["fine"]
    assert any("boom" in msg for msg in plugins.load_errors.values())


def _fresh_plugins(monkeypatch, folders):
    monkeypatch.setenv("SCI_VIEWER_PLUGINS", ":".join(str(f) for f in folders))
    monkeypatch.setattr(plugins, "load_errors", {})


def test_a_plugin_cannot_replace_a_registered_algorithm_or_denoiser(tmp_path, monkeypatch, small_demo):
    from sci_viewer.algorithms import get_algorithm
    from sci_viewer.models import build_denoiser

    builtin = get_algorithm("gap-tv")
    (tmp_path / "dup.py").write_text(
        "from sci_viewer.algorithms import AlgorithmSpec, register_algorithm, get_algorithm\n"
        "from sci_viewer.models import register_denoiser\n"
        "import torch\n"
        "real = get_algorithm('gap-tv')\n"
        "register_algorithm(AlgorithmSpec('gap-tv', 'FAKE', real.settings_type, real.make_solver))\n"
        "register_denoiser('unet', torch.nn.Identity)\n")
    _fresh_plugins(monkeypatch, [tmp_path])
    plugins.load_plugins()
    assert get_algorithm("gap-tv") is builtin and get_algorithm("gap-tv").label == "GAP-TV"
    assert not isinstance(build_denoiser("unet", ch=4), __import__("torch").nn.Identity)
    (why,) = plugins.load_errors.values()
    assert "algorithm 'gap-tv', which is already taken" in why and "denoiser 'unet'" in why


def test_plugins_with_one_file_name_in_two_folders_both_work(tmp_path, monkeypatch, small_demo):
    from sci_viewer.algorithms import algorithm_names, get_algorithm

    body = ("from dataclasses import dataclass\nfrom typing import Literal\n"
            "from sci_viewer.algorithms import AlgorithmSpec, register_algorithm, get_algorithm\n"
            "@dataclass\nclass S:\n    iterations: int = 2\n    mode: Literal['a', 'b'] = 'a'\n"
            "register_algorithm(AlgorithmSpec('{name}', '{name}', S, get_algorithm('gap-tv').make_solver))\n")
    for folder, name in (("one", "alg-one"), ("two", "alg-two")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.py").write_text(body.format(name=name))
    _fresh_plugins(monkeypatch, [tmp_path / "one", tmp_path / "two"])
    assert plugins.load_plugins() == ["same", "same"] and not plugins.load_errors
    assert {"alg-one", "alg-two"} <= set(algorithm_names())
    for name in ("alg-one", "alg-two"):
        get_algorithm(name).settings(iterations=3)  # the settings' type hints still resolve


def test_a_plugin_that_exits_or_needs_settings_values_is_reported(tmp_path, monkeypatch):
    from sci_viewer.algorithms import algorithm_names

    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "required.py").write_text(
        "from dataclasses import dataclass\n"
        "from sci_viewer.algorithms import AlgorithmSpec, register_algorithm, get_algorithm\n"
        "@dataclass\nclass S:\n    strength: float\n"
        "register_algorithm(AlgorithmSpec('req-field', 'R', S, get_algorithm('gap-tv').make_solver))\n")
    _fresh_plugins(monkeypatch, [tmp_path])
    plugins.load_plugins()  # returns: sys.exit in a plugin does not end the program
    errors = {p.rsplit("/", 1)[-1]: e for p, e in plugins.load_errors.items()}
    assert errors["exits.py"] == "it called sys.exit(3) while loading" and "without defaults" in errors["required.py"]
    assert "req-field" not in algorithm_names()


def test_the_readme_example_plugin_runs_as_written(tmp_path, monkeypatch, small_demo):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "plugins" / "README.md").read_text()
    code = re.search(r"## An algorithm\n\n```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "readme_example.py").write_text(code)
    _fresh_plugins(monkeypatch, [tmp_path])
    assert plugins.load_plugins() == ["readme_example"] and not plugins.load_errors
    final = execute(Job(small_demo, "my-algo", {"iterations": 3}, device="cpu", measurements=[0]))
    assert [e.k for e in final.trace] == [1, 2, 3]
