"""Size training configs to a time budget on a machine whose speed is not known in advance.

    fit_steps.py probe CONFIG... --dir D    # D/NAME.probe.yaml: 20 steps of each stage
    (train each probe config with --out D/NAME.probe)
    fit_steps.py fit CONFIG... --dir D --seconds T   # D/NAME.yaml: the stages' steps scaled to T
    fit_steps.py tiny CONFIG... --dir D     # D/NAME.yaml: a few steps of a 4-channel net, for dry runs

The probe's per-step time of each stage comes from its log (the last 10 of its 20 steps, after
warm-up); the fitted config keeps the ratio of the stages' steps and validates about 8 times
per stage. Used by tools/device/session.sh, where the runs share one GPU, so the probes run
together too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

PROBE_STEPS = 20


def _stages(cfg: dict) -> list[str]:
    return [s for s in ("pretrain", "deq") if cfg.get(s, {}).get("steps", 0) > 0]


def probe(configs: list[Path], out: Path) -> None:
    for path in configs:
        cfg = yaml.safe_load(path.read_text())
        for stage in _stages(cfg):
            cfg[stage]["steps"] = PROBE_STEPS
        cfg["val"] = dict(cfg.get("val", {}), every_steps=0, deq_every_steps=0)
        (out / f"{path.stem}.probe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def seconds_per_step(log: Path) -> dict[str, float]:
    if not log.exists():
        raise SystemExit(f"{log} is missing: the probe run failed (see its output above)")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    per: dict[str, float] = {}
    for stage in {r["stage"] for r in records if "time_s" in r}:
        timed = [r for r in records if r.get("stage") == stage and "time_s" in r]
        if len(timed) >= 2:
            a, b = timed[-2], timed[-1]
            per[stage] = (b["time_s"] - a["time_s"]) / (b["step"] - a["step"])
    return per


def fit(configs: list[Path], out: Path, seconds: float) -> None:
    for path in configs:
        cfg = yaml.safe_load(path.read_text())
        per = seconds_per_step(out / f"{path.stem}.probe" / "log.jsonl")
        stages = _stages(cfg)
        nominal = sum(cfg[s]["steps"] * per[s] for s in stages)
        scale = seconds / nominal
        for s in stages:
            cfg[s]["steps"] = steps = max(PROBE_STEPS, round(cfg[s]["steps"] * scale))
            cfg["val"]["deq_every_steps" if s == "deq" else "every_steps"] = max(1, steps // 8)
        (out / f"{path.stem}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        print(f"{path.stem}: " + ", ".join(f"{s} {cfg[s]['steps']} steps at {per[s]:.3f} s" for s in stages))


def tiny(configs: list[Path], out: Path) -> None:
    for path in configs:
        cfg = yaml.safe_load(path.read_text())
        cfg.pop("init_from", None)
        cfg["model"]["kwargs"]["ch"] = 4
        for stage in _stages(cfg):
            cfg[stage].update(batch=1, crop=32, steps=min(cfg[stage]["steps"], 60))
        cfg.setdefault("deq", {})["max_iter"] = 5
        cfg["val"].update(size=32, max_iter=5)
        (out / path.name).write_text(yaml.safe_dump(cfg, sort_keys=False))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["probe", "fit", "tiny"])
    p.add_argument("configs", nargs="+", type=Path)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--seconds", type=float, default=300.0, help="step time per run (fit)")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.action == "fit":
        fit(args.configs, args.dir, args.seconds)
    else:
        {"probe": probe, "tiny": tiny}[args.action](args.configs, args.dir)


if __name__ == "__main__":
    main()
