"""The shipped models (``models/*.pt`` with a model card ``*.md`` each) and training configs
(``train/*.yaml``). Installed as ``sci_viewer.resources``; see :mod:`sci_viewer.locations`."""
