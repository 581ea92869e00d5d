"""Subcommands of ``sci-viewer`` (see :mod:`sci_viewer.cli`)."""
