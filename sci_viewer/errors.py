"""Exception types whose messages are written for the operator, not the developer."""


class SciViewerError(Exception):
    """Base class: ``str(err)`` is a complete sentence fit for a dialog or the terminal."""


class CaptureError(SciViewerError):
    """A file or array cannot be used as a capture (unreadable, wrong variables, shapes, values)."""


class MaskRequiredError(CaptureError):
    """The capture has no mask, and the operation needs one."""


class ExportError(SciViewerError):
    """Writing an output failed; nothing partial was left behind."""


class JobError(SciViewerError):
    """A reconstruction could not run or stopped on a numerical fault."""


class JobCancelled(SciViewerError):
    """Raised inside a job when its cancel token was set; never shown as an error."""
