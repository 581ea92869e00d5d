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
