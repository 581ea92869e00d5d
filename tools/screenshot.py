"""Take docs/screenshot.png: the app mid-run, convergence plot and side-by-side view visible.

Run under a display, e.g.::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py [--out docs/screenshot.png]

It loads traffic48 from the shared data (the demo capture if absent), runs GAP-TV to the end,
starts a second run (DE-GAP when a trained model is available, else GAP-TV with a lighter TV
weight), and grabs the window after a few of its iterations.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from sci_viewer.gui.app import make_app
from sci_viewer.gui.main_window import MainWindow, isolated_settings
from sci_viewer.settings import data_dir


def wait(app, condition, timeout: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def pump(app, seconds: float) -> None:
    wait(app, lambda: False, seconds)


def second_run(window: MainWindow) -> tuple[str, dict]:
    """DE-GAP if its model loads, else a second GAP-TV with another TV weight."""
    from sci_viewer.algorithms import algorithm_names, get_algorithm

    if "de-gap" in algorithm_names():
        try:
            from sci_viewer.engine import Job, execute

            execute(Job(window.capture, "de-gap", {"max_iter": 1}, device="cpu", measurements=[0],
                        track_metrics=False))
            get_algorithm("de-gap")
            return "de-gap", {"max_iter": 100}
        except Exception as exc:  # noqa: BLE001 - no trained model yet
            print(f"DE-GAP not usable ({exc}); a second GAP-TV run instead", file=sys.stderr)
    return "gap-tv", {"iterations": 200, "tv_weight": 0.1}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/screenshot.png")
    p.add_argument("--after", type=int, default=15, help="grab after this many iterations of the second run")
    args = p.parse_args(argv)
    app = make_app()
    tmp = tempfile.TemporaryDirectory()
    window = MainWindow(settings=isolated_settings(Path(tmp.name) / "s.ini"), log_file=Path(tmp.name) / "log.txt")
    window.resize(1600, 1000)
    window.show()
    traffic = data_dir() / "benchmark" / "traffic48_cacti.mat"
    window.open_capture(traffic) if traffic.exists() else window.load_demo()
    if not wait(app, lambda: window.capture is not None and not window.busy_tasks()):
        print("could not load a capture", file=sys.stderr)
        return 1
    window.run_panel.set_algorithm("gap-tv")
    window.run_panel.form.set_values({"iterations": 40})
    first = window.start_run()
    wait(app, lambda: not window.runs.is_running())
    algo, settings = second_run(window)
    window.run_panel.set_algorithm(algo)
    window.run_panel.form.set_values(settings)
    second = window.start_run()
    window.tabs.setCurrentWidget(window.compare)
    window.compare.set_pane(0, f"run:{first.run_id}")
    window.compare.set_pane(1, f"run:{second.run_id}")
    window.compare.set_pane(2, "truth" if window.capture.has_truth else "diff")
    window.compare.slider.setValue(3)
    # Right after a preview iteration (every 5th), so the images and the plot show the same K.
    wait(app, lambda: window.plot.point_count(second.run_id) >= args.after or not window.runs.is_running())
    pump(app, 0.3)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    screen = QGuiApplication.primaryScreen()
    pixmap = screen.grabWindow(window.winId()) if screen is not None else window.grab()
    if pixmap.isNull() or pixmap.width() < 100:
        pixmap = window.grab()
    pixmap.save(str(out), "PNG")
    print(f"wrote {out} ({pixmap.width()}x{pixmap.height()}) during {second.label} at "
          f"K={window.plot.point_count(second.run_id)}")
    window.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
