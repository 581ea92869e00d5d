"""Long runs keep memory flat: the engine keeps only metrics per iteration, the app only the
latest estimate per measurement (issue 5)."""

import gc
import os
import sys

import pytest

from sci_viewer.demo import demo_capture
from sci_viewer.engine import IterationEvent, Job, run_job

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")


def _rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_engine_long_run_memory_is_flat():
    capture = demo_capture(size=48, n_meas=1)
    job = Job(capture, "gap-tv", {"iterations": 3000}, device="cpu", preview_every=1, ssim_every=50)
    rss = {}
    for event in run_job(job):
        if isinstance(event, IterationEvent) and event.k in (300, 3000):
            rss[event.k] = _rss_mb()
    # 2,700 more iterations, each with an estimate attached to its event: no growth beyond the
    # per-iteration metrics (a few hundred bytes each).
    assert rss[3000] - rss[300] < 15, rss


@pytest.mark.gui
def test_app_long_run_memory_is_flat(qtbot, tmp_path, monkeypatch):
    from sci_viewer.gui.testing import make_window, run_and_wait

    window, dialogs = make_window(qtbot, tmp_path, monkeypatch)
    window.set_capture(demo_capture(size=48, n_meas=1))
    window.run_panel.form.set_values({"iterations": 300})
    run_and_wait(qtbot, window)
    before = _rss_mb()
    window.run_panel.form.set_values({"iterations": 2000})
    record = run_and_wait(qtbot, window)
    after = _rss_mb()
    assert record.finished and record.last_k == 2000 and not dialogs.calls
    assert after - before < 40, (before, after)
