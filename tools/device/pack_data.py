"""Copy the data a GPU session needs into ``.devdata/`` (git-ignored), small enough to travel.

The device tool sends the working tree plus carried paths, 64 MiB in all, and ``../shared`` does
not travel. This copies the benchmark captures and the held-out validation scenes whole (so the
validation figures stay comparable with CPU runs) and, of every training scene, its first N
frames, with N the largest that keeps the total under ``--budget-mib``. Benchmark scenes never
enter training (the trainer refuses them by name as well).

    python tools/device/pack_data.py            # then carry .devdata (see tools/device/session.sh)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from sci_viewer.settings import data_dir
from sci_viewer.training.config import DataConfig

REPO = Path(__file__).resolve().parents[2]
TRAIN = Path("train") / "davis2016_val"


def tracked_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return sum((REPO / f).stat().st_size for f in files.decode().split("\0") if f and (REPO / f).is_file())


def frames_of(scene: Path) -> list[Path]:
    return sorted(scene.glob("*.jpg"))


def size(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / ".devdata"))
    p.add_argument("--budget-mib", type=float, default=62.0, help="working tree + data, MiB (the tool's limit is 64)")
    args = p.parse_args()
    src, out = data_dir(), Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    val_scenes = DataConfig().val_scenes
    scenes = sorted(d for d in (src / TRAIN).iterdir() if d.is_dir())
    whole = [src / "benchmark" / f.name for f in sorted((src / "benchmark").glob("*.mat"))]
    whole += [f for d in scenes if d.name in val_scenes for f in frames_of(d)]
    train = [d for d in scenes if d.name not in val_scenes]
    left = args.budget_mib * 2**20 - tracked_bytes() - size(whole)
    cap = max(n for n in range(8, 200) if n == 8 or sum(size(frames_of(d)[:n]) for d in train) <= left)
    picked = whole + [f for d in train for f in frames_of(d)[:cap]]
    for f in picked:
        dest = out / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
    print(f"{out}: {len(picked)} files, {size(picked) / 2**20:.1f} MiB; {len(train)} training scenes, "
          f"at most {cap} frames each; validation scenes {', '.join(val_scenes)} whole; benchmark whole")


if __name__ == "__main__":
    main()
