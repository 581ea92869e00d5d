"""sci_viewer: reconstruct video snapshot compressive imaging (CACTI) captures.

The core (everything outside :mod:`sci_viewer.gui`) never imports Qt.
"""

from sci_viewer._openmp import prefer_passive_wait

prefer_passive_wait()  # before anything imports torch: see sci_viewer._openmp

from sci_viewer.capture import Capture  # noqa: E402
from sci_viewer.errors import CaptureError, ExportError, JobError, SciViewerError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Capture", "CaptureError", "ExportError", "JobError", "SciViewerError", "__version__"]
