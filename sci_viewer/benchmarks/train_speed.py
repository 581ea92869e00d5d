"""Training steps per second of both stages (pretraining and DEQ) for a training config, optionally side by side with another checkout.

Each stage is measured on a fresh trainer of the config (its model, init_from, batch, crop and
solver settings; threads as configured; no run folder kept): ``--warmup`` steps, then ``--steps``
timed ones, the same seeded batches every time. With ``--baseline DIR`` (a checkout of another
commit, e.g. ``git worktree add /tmp/base <commit>``) every round runs the baseline and this code
alternately, each in a fresh process, and the ratio of their total times is printed: on a machine
shared with other work, only such side-by-side ratios mean anything.

    sci-viewer bench train-speed --config resources/train/degap-deep.yaml --baseline /tmp/base --rounds 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("pretrain", "deq")
REPO = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="training YAML, e.g. resources/train/degap-deep.yaml")
    p.add_argument("--stages", default="pretrain,deq", help="stages to time (comma-separated)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per stage")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--device", default=None, help="cpu | cuda[:N] (default: the config's)")
    p.add_argument("--baseline", default=None, metavar="DIR", help="another checkout to time alternately with this one")
    p.add_argument("--baseline-config", default=None, metavar="YAML",
                   help="with --baseline: the config the baseline side times (default: --config; e.g. --baseline . "
                        "--baseline-config A.yaml --config B.yaml times a config change on this code)")
    p.add_argument("--rounds", type=int, default=2, help="with --baseline: rounds of (baseline, this code)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="with --baseline: an environment variable for this code's processes only (e.g. "
                        "--baseline . --env OMP_WAIT_POLICY=PASSIVE times a setting against none)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: time one stage in this process


def time_stage(config: str, stage: str, steps: int, warmup: int, device: str | None) -> dict[str, float]:
    """Steps per second of ``stage`` for ``config`` in this process (the sci_viewer on sys.path)."""
    from sci_viewer.training.config import load_config
    from sci_viewer.training.loop import Trainer

    cfg = load_config(config)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), device=device, quiet=True)
        trainer._make_opt(stage)
        step = trainer._pretrain_step if stage == "pretrain" else trainer._deq_step
        for _ in range(warmup):
            step()
        passes = [0]  # samples the network was applied to: the step's work, whatever the machine's load
        hook = trainer.net.register_forward_pre_hook(lambda _m, inputs: passes.__setitem__(0, passes[0] + len(inputs[0])))
        iters, t0 = [], time.perf_counter()
        for _ in range(steps):
            iters.append(step().get("iters", 0))
        seconds = time.perf_counter() - t0
        hook.remove()
    return {"stage": stage, "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds,
            "mean_iters": sum(iters) / len(iters), "passes_per_step": passes[0] / steps}


def _worker(args: argparse.Namespace) -> int:
    import sci_viewer

    result = time_stage(args.config, args.worker, args.steps, args.warmup, args.device)
    print(json.dumps({**result, "package": str(Path(sci_viewer.__file__).resolve().parents[1])}))
    return 0


def _in_process(root: Path, args: argparse.Namespace, stage: str, extra_env: dict[str, str],
                config: str | None = None) -> dict[str, float]:
    """Time ``stage`` in a fresh process running the sci_viewer of checkout ``root``."""
    from sci_viewer._openmp import STARTED_WITH

    env = dict(os.environ)
    # as the process was started (this code's own import of sci_viewer sets its OpenMP policy again)
    env.pop("OMP_WAIT_POLICY", None)
    if STARTED_WITH is not None:
        env["OMP_WAIT_POLICY"] = STARTED_WITH
    env.update(extra_env)
    from sci_viewer.settings import data_dir

    env["SCI_DATA_DIR"] = str(data_dir())
    code = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
            f"getattr(f, '__module__', '')]; sys.path.insert(0, {str(root)!r}); sys.argv = sys.argv[1:]; "
            f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')")
    cmd = [sys.executable, "-c", code, "train-speed", "--config", str(Path(config or args.config).resolve()),
           "--worker", stage, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if args.device:
        cmd += ["--device", args.device]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"timing {stage} in {root} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["package"]) != root:
        raise SystemExit(f"the worker for {root} imported sci_viewer from {result['package']}")
    return result


def run(args: argparse.Namespace) -> int:
    if args.worker:
        return _worker(args)
    import torch

    stages = [s for s in args.stages.split(",") if s]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise SystemExit(f"unknown stage(s) {', '.join(bad)}; choose from {', '.join(STAGES)}")
    from sci_viewer.training.config import load_config

    for config in (args.config, args.baseline_config):  # refused here, by name, not in a worker's traceback
        if config:
            load_config(config)
    print(f"{args.config}: {platform.node()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    if not args.baseline:
        for stage in stages:
            r = time_stage(args.config, stage, args.steps, args.warmup, args.device)
            print(f"{stage:9} {r['steps_per_s']:8.3f} steps/s  ({r['steps']} steps, {r['seconds']:.1f} s, "
                  f"mean iterations {r['mean_iters']:.1f}, {r['passes_per_step']:.1f} sample passes "
                  "of the network a step)", flush=True)
        return 0
    sides = {"baseline": Path(args.baseline).resolve(), "this": REPO}
    extra = dict(kv.split("=", 1) for kv in args.env)
    if extra:
        print(f"this code runs with {' '.join(args.env)}")
    if args.baseline_config:
        print(f"the baseline times {args.baseline_config}, this code {args.config}")
    for stage in stages:
        total = {side: 0.0 for side in sides}
        ratios = []
        for k in range(args.rounds):
            secs = {}
            for side, root in sides.items():
                r = _in_process(root, args, stage, extra if side == "this" else {},
                                args.baseline_config if side == "baseline" else None)
                secs[side] = r["seconds"]
                print(f"{stage:9} round {k + 1} {side:8} {r['steps_per_s']:8.3f} steps/s  "
                      f"(mean iterations {r['mean_iters']:.1f}, {r['passes_per_step']:.1f} sample passes "
                      "a step)", flush=True)
            ratios.append(secs["baseline"] / secs["this"])
            total = {side: total[side] + secs[side] for side in sides}
        geo = math.exp(sum(math.log(q) for q in ratios) / len(ratios))
        print(f"{stage:9} speed-up this / baseline: {total['baseline'] / total['this']:.2f}x in total time, "
              f"per round {', '.join(f'{q:.2f}x' for q in ratios)} (geometric mean {geo:.2f}x; "
              f"{args.rounds} rounds of {args.steps} steps each)", flush=True)
    return 0


if __name__ == "__main__":  # the --baseline worker processes run this file directly
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args(sys.argv[1:])))
