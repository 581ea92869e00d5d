"""GUI responsiveness: worst delay of a 20 ms QTimer on the GUI thread while the real window runs a reconstruction (offscreen)."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

TARGET_MS = 100.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--capture", help="capture file (default: traffic48 from the shared data, else the demo)")
    p.add_argument("--demo", metavar="SIZE,B,N", help="a synthetic demo capture instead, e.g. 512,10,3 "
                                                      "(SIZE x SIZE frames, B per measurement, N measurements)")
    p.add_argument("--algo", default="gap-tv", help="algorithm to run (default gap-tv)")
    p.add_argument("--iterations", type=int, default=40, help="iterations per measurement (default 40)")
    p.add_argument("--measurements", default="0,1", help="measurements to reconstruct (default 0,1)")
    p.add_argument("--interval", type=float, default=20.0, help="timer interval in ms (default 20)")
    p.add_argument("--tab", choices=["video", "compare"], default="video", help="view shown during the run")
    p.add_argument("--verbose", action="store_true", help="list every delay over half the target")


def _default_capture() -> Path | None:
    from sci_viewer.settings import data_dir

    path = data_dir() / "benchmark" / "traffic48_cacti.mat"
    return path if path.exists() else None


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer

    from sci_viewer.commands.common import parse_indices
    from sci_viewer.gui.app import make_app, settle_gc
    from sci_viewer.gui.main_window import MainWindow, isolated_settings

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=isolated_settings(Path(tmp) / "s.ini"), log_file=Path(tmp) / "log.txt")
        window.resize(1500, 950)
        window.show()
        path = Path(args.capture) if args.capture else None if args.demo else _default_capture()
        if args.demo:
            from sci_viewer.demo import demo_capture

            try:
                size, frames, count = (int(v) for v in args.demo.split(","))
            except ValueError:
                print(f"--demo {args.demo!r}: expected SIZE,B,N, e.g. 512,10,3")
                return 2
            window.set_capture(demo_capture(size=size, n_frames=frames, n_meas=count))
        elif path is not None:
            window.open_capture(path)
        else:
            window.load_demo()
        settle_gc()  # as the app does once its window is open (sci_viewer.gui.app.open_window)
        deadline = time.monotonic() + 120
        while (window.capture is None or window.busy_tasks()) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        if window.capture is None:
            print("could not load the capture")
            return 1
        window.run_panel.set_algorithm(args.algo)
        settings_key = "iterations" if "iterations" in window.run_panel.form.field_names() else "max_iter"
        window.run_panel.form.set_values({settings_key: args.iterations})
        window.run_panel.set_measurements(parse_indices(args.measurements))
        window.tabs.setCurrentWidget(window.video if args.tab == "video" else window.compare)

        delays: list[float] = []
        spikes: list[tuple[float, float, int]] = []  # (seconds into the run, delay ms, iterations so far)
        clock = QElapsedTimer()
        timer = QTimer()
        timer.setInterval(int(args.interval))

        def tick() -> None:
            delay = clock.nsecsElapsed() / 1e6 - args.interval
            delays.append(delay)
            clock.restart()
            if delay > TARGET_MS / 2:
                spikes.append((time.perf_counter() - t0, delay, window.plot.point_count(record.run_id)))

        timer.timeout.connect(tick)
        window.runs.sigIdle.connect(app.quit)
        t0 = time.perf_counter()
        record = window.start_run()
        if record is None:
            return 1
        clock.start()
        timer.start()
        t0 = time.perf_counter()
        app.exec()
        wall = time.perf_counter() - t0
        timer.stop()
        n_points = window.plot.point_count(record.run_id)
        window.close()
    if args.verbose:
        for at, delay, k in spikes:
            print(f"  {at:7.2f} s  delay {delay:6.1f} ms  after {k} iterations")
    measured = delays[1:]  # the first tick includes the run's start-up, for both figures
    worst = max(measured or [0.0])
    p99 = sorted(measured)[int(0.99 * (len(measured) - 1))] if measured else 0.0
    import torch

    print(f"{record.label} on {path.name if path else 'demo'}: {n_points} iterations in {wall:.1f} s, "
          f"{len(delays)} timer ticks, {torch.get_num_threads()} solver thread(s)")
    print(f"worst timer delay {worst:.1f} ms, 99th percentile {p99:.1f} ms (target < {TARGET_MS:.0f} ms): "
          f"{'OK' if worst < TARGET_MS else 'TOO SLOW'}")
    return 0 if worst < TARGET_MS else 1
