"""Architecture contracts: the core never imports Qt; nothing from ../shared/data is in the repo."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import sci_viewer

REPO = Path(__file__).resolve().parent.parent


def test_core_imports_no_qt():
    core = [m.name for m in pkgutil.walk_packages(sci_viewer.__path__, "sci_viewer.")
            if not m.name.startswith("sci_viewer.gui") and m.name != "sci_viewer.benchmarks.gui_latency"
            and m.name != "sci_viewer.commands.gui"]
    code = ("import importlib, sys\n"
            f"for m in {core!r}: importlib.import_module(m)\n"
            "from sci_viewer.algorithms import load_builtin; load_builtin()\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6'))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core modules imported Qt: {out.stdout}"
    assert len(core) > 10


def test_no_shared_data_files_in_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    data_suffixes = {".mat", ".jpg", ".jpeg", ".h5", ".npz"}
    offenders = [f for f in tracked if Path(f).suffix.lower() in data_suffixes]
    assert offenders == [], f"data files committed: {offenders}"
