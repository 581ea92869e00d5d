"""Exports: reconstructions as video/image/data files, metrics as CSV, settings as YAML.

Every write is atomic (:func:`atomic_path`): a failed or cancelled export leaves no partial file
and never replaces a good file with a broken one. Failures raise
:class:`~sci_viewer.errors.ExportError`; a cancelled export raises
:class:`~sci_viewer.errors.JobCancelled`.
"""

from sci_viewer.export.atomic import atomic_path
from sci_viewer.export.composite import side_by_side
from sci_viewer.export.tables import METRIC_COLUMNS, save_config_yaml, write_metrics_csv
from sci_viewer.export.video import EXPORT_FORMATS, check_export_target, export_video, output_path

__all__ = ["export_video", "check_export_target", "write_metrics_csv", "save_config_yaml", "side_by_side", "atomic_path",
           "EXPORT_FORMATS", "METRIC_COLUMNS", "output_path"]
