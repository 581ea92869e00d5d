"""Atomic writes: write beside the target under a temporary name, rename into place on success.

A failed or cancelled write removes its temporary file (or folder) and leaves any existing target
untouched; ``OSError`` (folder not writable, disk full, ...) becomes :class:`ExportError`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from sci_viewer.errors import ExportError


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()


def os_error_message(final: Path, exc: OSError, existed: bool) -> str:
    reason = {
        errno.ENOSPC: "no space left on the disk (disk full)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied (the folder is not writable)",
        errno.EPERM: "operation not permitted (the folder is not writable)",
        errno.EROFS: "the disk is read-only",
        errno.ENOTDIR: "a part of the folder path is a file, not a folder",
        errno.ENOENT: "the folder does not exist",
        errno.EISDIR: "a folder of that name is in the way",
    }.get(exc.errno or 0, exc.strerror or str(exc) or type(exc).__name__)
    kept = " The existing file was left unchanged." if existed else ""
    return f"Could not write '{final}': {reason}. Nothing was written.{kept}"


def _check_folder(final: Path) -> None:
    folder = final.parent
    if not folder.exists():
        # A parent that is a regular file gives ENOTDIR here; plain absence gives ENOENT.
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise ExportError(f"Could not write '{final}': '{probe}' is a file, not a folder.")
        raise ExportError(f"Could not write '{final}': the folder '{folder}' does not exist.")
    if not folder.is_dir():
        raise ExportError(f"Could not write '{final}': '{folder}' is a file, not a folder.")


def _install(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final``; a folder replacing an existing one goes through a backup name."""
    if tmp.is_dir() and final.exists():
        backup = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(final, backup)
        try:
            os.replace(tmp, final)
        except BaseException:
            os.replace(backup, final)
            raise
        _remove(backup)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``final_path``'s folder (same suffix, not yet created).

    Write a file (or create a folder) there; on normal exit it is renamed to ``final_path`` with
    :func:`os.replace` (atomic on one file system). On any exception the temporary is deleted and
    the exception propagates; an ``OSError`` is re-raised as :class:`ExportError` naming the path.
    """
    final = Path(final_path)
    _check_folder(final)
    existed = final.exists()
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.part{final.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise ExportError(f"Could not write '{final}': the writer produced no output.")
        _install(tmp, final)
    except OSError as exc:
        _remove(tmp)
        raise ExportError(os_error_message(final, exc, existed)) from exc
    except BaseException:
        _remove(tmp)
        raise
