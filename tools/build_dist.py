"""Build the sdist, then the wheel from the unpacked sdist (as ``python -m build`` does), offline.

    python tools/build_dist.py OUT_DIR      # prints the two file paths

Building the wheel from the sdist proves the sdist complete and keeps stale files in ``build/`` out
of the wheel. It uses the setuptools of the running interpreter (no build isolation, so nothing is
fetched from an index); CI and ``tests/test_packaging.py`` call it.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _backend(call: str, source: Path, out: Path) -> Path:
    """Run ``setuptools.build_meta.<call>(out)`` in ``source``; return the file it wrote."""
    code = f"from setuptools import build_meta as b; print(b.{call}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{call} failed in {source}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return out / done.stdout.strip().splitlines()[-1]


def build(out: Path) -> tuple[Path, Path]:
    """Write ``sci_viewer-V.tar.gz`` and ``sci_viewer-V-py3-none-any.whl`` into ``out``."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sdist = _backend("build_sdist", REPO, out)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as tar:
            # the 'data' filter (refuse links and paths out of tmp) is in 3.11.4 and later; our own sdist
            # is trusted, so an older 3.11 extracts it plainly
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, **kwargs)
        (unpacked,) = Path(tmp).iterdir()
        wheel = _backend("build_wheel", unpacked, out)
    return sdist, wheel


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in build(Path(sys.argv[1])):
        print(path)
