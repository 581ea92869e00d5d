"""``python -m sci_viewer``: the same command line as ``sci-viewer`` (so ``torchrun -m sci_viewer ...`` works)."""

import sys

from sci_viewer.cli import main

if __name__ == "__main__":
    sys.exit(main())
