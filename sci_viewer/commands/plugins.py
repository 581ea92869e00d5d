"""``sci-viewer plugins``: the plugins loaded (one-file and entry point), where each came from,
what it registered, and the problems of those that failed."""

from __future__ import annotations

import argparse
import dataclasses
import json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("plugins", help="list the plugins (bundled, user folder, $SCI_PLUGINS_DIR, entry points)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def run(args: argparse.Namespace) -> int:
    from sci_viewer.algorithms import load_builtin
    from sci_viewer.locations import plugin_folders
    from sci_viewer import plugins

    load_builtin()  # loads the plugins once
    rows = [dataclasses.asdict(p) for p in plugins.loaded_plugins]
    folders = [{"folder": str(f.path), "source": f.source, "exists": f.path.is_dir()} for f in plugin_folders()]
    if args.json:
        print(json.dumps({"plugins": rows, "folders": folders, "entry_point_group": plugins.ENTRY_POINT_GROUP},
                         indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<20} {row['source']:<12} {row['location']}")
        print(f"{'':<20} registers: {', '.join(row['registered']) or 'nothing'}")
        if row["error"]:
            print(f"{'':<20} problem: {row['error']}")
    if not rows:
        print("no plugins found")
    print("searched: " + "; ".join(f"{f['folder']} ({f['source']}{'' if f['exists'] else ', absent'})"
                                   for f in folders) + f"; entry points '{plugins.ENTRY_POINT_GROUP}'")
    return 0
