"""The bundled one-file plugins, installed as ``sci_viewer.bundled_plugins``. They are loaded
from their files by :mod:`sci_viewer.plugins`, not imported as this package's modules."""
