"""The desktop application (PySide6 + pyqtgraph). The only part of sci_viewer that imports Qt.

Start it with :func:`sci_viewer.gui.app.run_app` (``python main.py`` or ``sci-viewer gui``).
"""
