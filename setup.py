"""The wheel's packages: everything under ``sci_viewer/``, plus the repository's top-level
``resources/`` and ``plugins/`` folders as ``sci_viewer.resources`` and ``sci_viewer.bundled_plugins``
(their folders: ``[tool.setuptools.package-dir]`` in pyproject.toml, which holds all other metadata).
``packages.find`` cannot discover packages mapped to other folders, hence this file."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["sci_viewer", "sci_viewer.*"]) + ["sci_viewer.resources", "sci_viewer.bundled_plugins"])
