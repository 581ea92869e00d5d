"""The main window's menus and their actions (File, Run, View)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu


@dataclass
class MenuSlots:
    """What each menu entry calls."""

    choose_capture: Callable[[], None]
    choose_mask: Callable[[], None]
    load_demo: Callable[[], object]
    export: Callable[[], object]
    export_plot: Callable[[str], None]
    save_config: Callable[[], None]
    load_config: Callable[[], None]
    quit: Callable[[], object]
    run: Callable[[], object]
    stop: Callable[[], None]
    continue_run: Callable[[], object]
    clear: Callable[[], None]


@dataclass
class MenuActions:
    """The entries the window changes later."""

    recent_menu: QMenu
    run: QAction
    stop: QAction
    continue_run: QAction


def _action(window: QMainWindow, menu: QMenu, text: str, slot: Callable[[], object],
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _=False: slot())
    menu.addAction(action)
    return action


def build_menus(window: QMainWindow, slots: MenuSlots, docks: Iterable[QDockWidget]) -> MenuActions:
    """Fill ``window``'s menu bar; View lists ``docks`` (show/hide each)."""
    bar = window.menuBar()
    f = bar.addMenu("&File")
    _action(window, f, "&Open capture…", slots.choose_capture, QKeySequence.StandardKey.Open)
    _action(window, f, "Open &mask…", slots.choose_mask, "Ctrl+M")
    recent = f.addMenu("Open &recent")
    _action(window, f, "Open &demo capture", slots.load_demo)
    f.addSeparator()
    _action(window, f, "&Export…", slots.export, "Ctrl+E")
    _action(window, f, "Export plot as PNG…", lambda: slots.export_plot("png"))
    _action(window, f, "Export plot data as CSV…", lambda: slots.export_plot("csv"))
    f.addSeparator()
    _action(window, f, "&Save run configuration…", slots.save_config, "Ctrl+S")
    _action(window, f, "&Load run configuration…", slots.load_config, "Ctrl+L")
    f.addSeparator()
    _action(window, f, "&Quit", slots.quit, QKeySequence.StandardKey.Quit)
    r = bar.addMenu("&Run")
    run = _action(window, r, "&Run", slots.run, "Ctrl+R")
    stop = _action(window, r, "&Stop", slots.stop, "Escape")
    cont = _action(window, r, "&Continue iterating", slots.continue_run, "Ctrl+Shift+R")
    _action(window, r, "Clear &plot and runs", slots.clear)
    v = bar.addMenu("&View")
    for dock in docks:
        v.addAction(dock.toggleViewAction())
    return MenuActions(recent, run, stop, cont)
