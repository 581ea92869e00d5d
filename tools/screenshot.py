"""Take docs/screenshot.png: the app mid-run, convergence plot and side-by-side view visible.

Run under a display, e.g.::

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py [--out docs/screenshot.png]

By default it synthesises a real-like capture without ground truth (``sci_viewer.demo.real_like_capture``:
512 x 512, B = 10, calibrated grey-level shifted mask, sensor noise, real_cr scale), as an operator
meets real data: nothing to judge by but the residuals. ``--capture traffic`` loads traffic48 from
the shared data instead (with ground truth), ``--capture PATH`` any capture file. It runs the
algorithms of ``--runs`` one after the other (GAP-TV, DE-GAP by default; those whose model does not
load are skipped), shows the last two side by side (with the ground truth, or their difference),
and grabs the window after a few iterations of the last run.
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


def usable(window: MainWindow, algo: str) -> bool:
    """True when ``algo`` runs here (its trained model loads)."""
    from sci_viewer.algorithms import get_algorithm
    from sci_viewer.engine import Job, execute

    try:
        cap = get_algorithm(algo).iteration_field
        execute(Job(window.capture, algo, {cap: 1} if cap else {}, device="cpu", measurements=[0],
                    track_metrics=False))
        return True
    except Exception as exc:  # noqa: BLE001 - e.g. no trained model
        print(f"{algo} not usable ({exc}); skipped", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/screenshot.png")
    p.add_argument("--capture", default="real-like",
                   help="'real-like' (synthesised, no ground truth), 'traffic' (shared data) or a capture file")
    p.add_argument("--size", type=int, default=512, help="frame size of the real-like capture")
    p.add_argument("--runs", default="gap-tv,de-gap",
                   help="algorithms run one after the other; the window is grabbed during the last")
    p.add_argument("--after", type=int, default=15, help="grab after this many iterations of the last run")
    args = p.parse_args(argv)
    app = make_app()
    tmp = tempfile.TemporaryDirectory()
    window = MainWindow(settings=isolated_settings(Path(tmp.name) / "s.ini"), log_file=Path(tmp.name) / "log.txt")
    window.resize(1600, 1000)
    window.show()
    if args.capture == "real-like":
        from sci_viewer.demo import real_like_capture

        window.set_capture(real_like_capture(size=args.size, with_truth=False))
    else:
        path = data_dir() / "benchmark" / "traffic48_cacti.mat" if args.capture == "traffic" else Path(args.capture)
        window.open_capture(path) if path.exists() else window.load_demo()
    if not wait(app, lambda: window.capture is not None and not window.busy_tasks()):
        print("could not load a capture", file=sys.stderr)
        return 1
    algos = [a for a in args.runs.split(",") if a and (a == "gap-tv" or usable(window, a))] or ["gap-tv"]
    runs = []
    for algo in algos:
        window.run_panel.set_algorithm(algo)  # the algorithm's default settings (isolated app settings)
        runs.append(window.start_run())
        if len(runs) < len(algos):
            wait(app, lambda: not window.runs.is_running())
    first, second = (runs[-2], runs[-1]) if len(runs) > 1 else (runs[0], runs[0])
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
