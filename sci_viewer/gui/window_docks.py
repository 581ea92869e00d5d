"""The main window's docks: which panel sits where, their default sizes, and the one-click
button that folds the convergence dock away (three compare panes get its width)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QScrollArea, QToolButton, QWidget

Area = Qt.DockWidgetArea

#: default widths of the left and right docks and the height of the bottom one (pixels)
DEFAULT_SIZES = {"capture": 330, "convergence": 440, "log": 120}


def add_dock(window: QMainWindow, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea,
             scroll: bool = False) -> QDockWidget:
    """A dock ``dock_<name>`` holding ``widget`` (in a vertical scroll area if ``scroll``)."""
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{name}")
    if scroll:
        area_widget = QScrollArea()
        area_widget.setWidgetResizable(True)
        area_widget.setFrameShape(QScrollArea.Shape.NoFrame)
        area_widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area_widget.setWidget(widget)
        widget = area_widget
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


def build_docks(window: QMainWindow, capture_panel: QWidget, run_panel: QWidget, plot: QWidget,
                log: QWidget) -> dict[str, QDockWidget]:
    """Capture and Run on the left, Convergence on the right, Log at the bottom."""
    docks = {
        "capture": add_dock(window, "capture", "Capture", capture_panel, Area.LeftDockWidgetArea, scroll=True),
        "run": add_dock(window, "run", "Run", run_panel, Area.LeftDockWidgetArea, scroll=True),
        "convergence": add_dock(window, "convergence", "Convergence", plot, Area.RightDockWidgetArea),
        "log": add_dock(window, "log", "Log", log, Area.BottomDockWidgetArea),
    }
    window.setCorner(Qt.Corner.BottomLeftCorner, Area.LeftDockWidgetArea)
    return docks


def default_dock_sizes(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """The first-start layout (later starts restore the saved one)."""
    window.resizeDocks([docks["capture"], docks["convergence"]],
                       [DEFAULT_SIZES["capture"], DEFAULT_SIZES["convergence"]], Qt.Orientation.Horizontal)
    window.resizeDocks([docks["log"]], [DEFAULT_SIZES["log"]], Qt.Orientation.Vertical)


def dock_toggle_button(dock: QDockWidget, text: str, tip: str) -> QToolButton:
    """A checkable button showing/hiding ``dock`` with one click (it follows the View menu too)."""
    button = QToolButton()
    action = dock.toggleViewAction()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    action.setText(text)
    action.setToolTip(tip)
    button.setObjectName(f"toggle_{dock.objectName()}")
    return button
