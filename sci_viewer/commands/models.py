"""``sci-viewer models``: the trained models found, and where each came from."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("models", help="list the trained models (bundled, user folder, $SCI_MODELS_DIR)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--hash", action="store_true", help="add each file's SHA-256")
    return p


def run(args: argparse.Namespace) -> int:
    from sci_viewer.locations import model_folders
    from sci_viewer.models import file_sha256, list_models

    rows = [{"name": m.name, "kind": m.kind, "arch": m.arch, "source": m.source, "file": str(m.path),
             **({"sha256": file_sha256(m.path)} if args.hash else {})} for m in list_models()]
    folders = [{"folder": str(f.path), "source": f.source, "exists": f.path.is_dir()} for f in model_folders()]
    if args.json:
        print(json.dumps({"models": rows, "folders": folders}, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<24} {row['kind']:<10} {row['source']:<8} {row['file']}"
              + (f"  sha256 {row['sha256']}" if args.hash else ""))
    if not rows:
        print("no models found")
    print("searched: " + "; ".join(f"{f['folder']} ({f['source']}{'' if f['exists'] else ', absent'})"
                                   for f in folders))
    return 0
