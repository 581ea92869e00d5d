"""``python -m sci_viewer``: the ``sci-viewer`` command line (what ``torchrun ... -m sci_viewer`` starts)."""

import sys

from sci_viewer.cli import main

if __name__ == "__main__":
    sys.exit(main())
