"""Which trained models exist and where they came from.

Models are ``NAME.pt`` files (:mod:`.files`) with an optional model card ``NAME.md`` beside them, in
the folders of :func:`sci_viewer.locations.model_folders`: bundled with the package, the user's
folder, ``$SCI_MODELS_DIR``. The first folder holding a name wins, so a user's file cannot shadow a
shipped model of the same name (the listing leaves the later one out and logs it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sci_viewer.errors import JobError
from sci_viewer.locations import Folder, model_folders
from sci_viewer.models.files import read_model_file

log = logging.getLogger(__name__)
FILE = "file"  # the source of a model given as a path


@dataclass(frozen=True)
class ModelInfo:
    """A trained model found in one of the model folders; ``source`` says which kind of folder
    (``bundled``, ``user``, ``env``, or ``given`` for :func:`list_models`' own folder)."""

    name: str
    arch: str
    path: Path
    card: str = ""
    summary: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = "bundled"

    @property
    def kind(self) -> str:
        from sci_viewer.models import model_kind  # the registry, which imports this module

        return model_kind(self.arch)


_LISTING: dict[tuple, list[ModelInfo]] = {}


def _stamps(folders: list[Folder]) -> tuple:
    stamps = []
    for folder in folders:
        for path in sorted(folder.path.glob("*.pt")) if folder.path.is_dir() else []:
            card = path.with_suffix(".md")
            stat = path.stat()
            stamps.append((str(path), folder.source, stat.st_mtime_ns, stat.st_size,
                           card.stat().st_mtime_ns if card.exists() else 0))
    return tuple(stamps)


def list_models(folder: str | Path | None = None) -> list[ModelInfo]:
    """Trained models (``*.pt``) with their cards, in every model folder (or only in ``folder``).

    The files are read again only when the listing (names, sizes, modification times) changes: the
    app asks for the lists each time an algorithm is chosen. Unreadable files are left out.
    """
    folders = [Folder(Path(folder), "given")] if folder else model_folders()
    key = _stamps(folders)
    infos = _LISTING.get(key)
    if infos is None:
        infos, seen = [], {}
        for path_text, source, *_ in key:
            path = Path(path_text)
            if path.stem in seen:
                log.warning("model %s is left out: %s already has that name", path, seen[path.stem])
                continue
            info = _read_model_info(path, source)
            if info is not None:
                seen[info.name] = path
                infos.append(info)
        _LISTING.clear()  # one listing is kept
        _LISTING[key] = infos
    return list(infos)


def _read_model_info(path: Path, source: str) -> ModelInfo | None:
    try:
        blob = read_model_file(path)
    except JobError:  # an unreadable file is skipped, not fatal
        return None
    card_path = path.with_suffix(".md")
    card = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    meta = blob.get("meta", {})
    summary = str(meta.get("summary", "")) or _first_paragraph(card)
    return ModelInfo(path.stem, blob.get("arch", "?"), path, card, summary, meta, source)


def _first_paragraph(card: str) -> str:
    for block in card.split("\n\n"):
        text = " ".join(line.strip() for line in block.splitlines() if not line.startswith("#")).strip()
        if text:
            return text
    return ""


def find_model(name_or_path: str | Path) -> tuple[Path, str]:
    """The file of a model given by path or by name, and its source (``file`` for a path).

    An existing file is used whatever its extension; a name is looked up as ``NAME.pt`` in each
    model folder in turn. Raises :class:`JobError` naming the folders and the known models.
    """
    p = Path(name_or_path)
    if p.is_file():
        return p, FILE
    folders = model_folders()
    if p.suffix != ".pt" and len(p.parts) == 1:
        for folder in folders:
            if (folder.path / f"{p.name}.pt").is_file():
                return folder.path / f"{p.name}.pt", folder.source
    known = ", ".join(m.name for m in list_models()) or "none"
    if p.suffix == ".pt" or len(p.parts) > 1:
        raise JobError(f"Model file '{p}' does not exist; the known models are: {known}.")
    searched = ", ".join(str(f.path) for f in folders)
    raise JobError(f"No model '{name_or_path}' (no such file, and not a model in {searched}); known models: {known}.")


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file (hex), remembered per (path, size, modification time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def model_record(name_or_path: str | Path) -> dict[str, str]:
    """Where a model's weights came from, for a run configuration: the name given, the file, its
    source and its SHA-256 (raises :class:`JobError` when there is no such model)."""
    path, source = find_model(name_or_path)
    return {"name": str(name_or_path), "file": str(path.resolve()), "source": source, "sha256": file_sha256(path)}
