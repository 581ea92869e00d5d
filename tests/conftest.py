"""Shared fixtures: the shared data folder (``$SCI_DATA_DIR``) and synthesised captures."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user's own model and plugin folders stay out of the tests (see sci_viewer.locations).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="sci-viewer-test-data-")
for _name in ("SCI_MODELS_DIR", "SCI_PLUGINS_DIR", "SCI_VIEWER_PLUGINS"):
    os.environ.pop(_name, None)

import pytest

from sci_viewer.demo import demo_capture, real_like_capture
from sci_viewer.settings import data_dir


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data (or $SCI_DATA_DIR); tests needing it skip when it is absent."""
    path = data_dir()
    if not (path / "benchmark").is_dir():
        pytest.skip(f"shared data not found at {path} (set SCI_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def demo():
    return demo_capture()


@pytest.fixture(scope="session")
def small_demo():
    return demo_capture(size=64, n_meas=2)


@pytest.fixture(scope="session")
def real_like():
    return real_like_capture(size=128)


@pytest.fixture
def window_and_dialogs(qtbot, tmp_path, monkeypatch):
    """The real main window (offscreen) with error dialogs recorded instead of shown."""
    from sci_viewer.gui.testing import make_window

    return make_window(qtbot, tmp_path, monkeypatch)


@pytest.fixture
def window(window_and_dialogs):
    return window_and_dialogs[0]


@pytest.fixture(autouse=True)
def _qt_objects_are_deleted_on_the_gui_thread(request):
    """After a test that used Qt: wait for its worker threads to end, then delete its closed widgets
    and collect its garbage here, on the GUI thread, while nothing else runs. Left to Python's garbage
    collector, a window of an earlier test can be destroyed from whatever thread allocates next,
    while a later test's worker is running (a deadlock between Qt's locks and the GIL)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    from sci_viewer.gui.worker import join_thread, running_threads

    for worker_thread in running_threads():  # a worker thread ends its own loop: no GUI events needed
        join_thread(worker_thread, 60.0)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
