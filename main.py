"""Start the sci_viewer desktop application: ``python main.py [CAPTURE] [--mask FILE]``."""

import sys

from sci_viewer.gui.app import run_app

if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
