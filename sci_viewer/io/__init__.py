"""Reading captures: MATLAB v5/v7.3 ``.mat``, ``.npz``, ``.npy``, ``.h5`` and TIFF stacks.

- :func:`load_capture` builds a :class:`~sci_viewer.capture.Capture` (measurement, mask, ground truth);
- :func:`load_mask` reads a mask alone (B x H x W), e.g. from a separate calibration file;
- :func:`inspect_file` lists what a file holds, also when it does not make a valid capture;
- :func:`load_dark` reads a dark frame, :func:`apply_correction` subtracts it (or a constant) and sets a
  saturation level.

Modules: :mod:`.formats` (recognising and reading each format), :mod:`.variables` (finding
variables by name or alias), :mod:`.layout` (axis orders), :mod:`.loaders` (the functions above).
Every failure is a :class:`~sci_viewer.errors.CaptureError` whose message names the file, the
variable and the shapes involved. Arrays larger than ``sci_viewer.io.formats.MAX_LOAD_BYTES``
(4 GiB, or ``$SCI_MAX_LOAD_BYTES``) are refused from their declared shape, before reading.
"""

from sci_viewer.io.dark import apply_correction, dark_correction, load_dark
from sci_viewer.io.loaders import auto_scale, frames_from_name, inspect_file, load_capture, load_mask

__all__ = ["load_capture", "load_mask", "inspect_file", "auto_scale", "frames_from_name", "load_dark",
           "dark_correction", "apply_correction"]
