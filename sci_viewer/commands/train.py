"""``sci-viewer train``: train a denoiser / DE-GAP model from a YAML config (see sci_viewer.training)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sci_viewer.locations import checkout_root, training_config_path

if TYPE_CHECKING:
    from sci_viewer.training.config import TrainConfig
    from sci_viewer.training.distributed import Ranks

# run folders: the checkout's checkpoints/, or ./checkpoints for an installed package
CHECKPOINTS = (checkout_root() or Path()) / "checkpoints"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a model: a denoiser (pretrained, then through DE-GAP's fixed point) or a DE-RNN iteration",
        description="Train from a YAML config (stages: pretrain, deq). Checkpoints, log.jsonl and the "
                    "exported models (best.pt, <stage>_final.pt) go to the run folder. Under torchrun "
                    "(torchrun --nproc-per-node N -m sci_viewer train ...) the N ranks train one model "
                    "data-parallel: each draws its own batches, gradients are averaged, rank 0 writes.",
    )
    p.add_argument("--config", required=True, help="YAML file, e.g. resources/train/degap-default.yaml, or the name of a shipped config (degap-default)")
    p.add_argument("--out", default=None, help="run folder (default: checkpoints/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt (steps, optimiser, RNG)")
    p.add_argument("--device", default=None, choices=None, help="auto | cpu | cuda[:N] (default: the config's)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    p.add_argument("--threads", type=_threads, default=None,
                   help="torch CPU threads (default: the config's 'threads'; 0: torch's default). The config "
                        "is the recipe, the thread count belongs to the machine")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--export", metavar="PATH", default=None,
                   help="do not train: copy a model of the run folder to PATH (e.g. resources/models/NAME.pt; "
                        ".pt is added when missing)")
    p.add_argument("--pick", default="best", help="which model of the run to export: best (highest validation "
                   "PSNR, default), best_pretrain, best_deq, pretrain_final, deq_final, or last: the weights of the "
                   "latest checkpoint (last.pt), for a selection other than the run's validation")
    return p


def _threads(text: str) -> int:
    """``--threads``: a whole number, 0 or more (argparse names the flag in its error)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {n}")
    return n


def export(run_dir: Path, pick: str, dest: Path) -> Path:
    """Copy ``run_dir/<pick>.pt`` (a model file) to ``dest``, adding where it came from to its meta."""
    from sci_viewer.errors import JobError
    from sci_viewer.models import model_from_file_contents, read_model_file, save_model

    src = run_dir / f"{pick}.pt"
    if not src.exists():
        raise JobError(f"No '{src}' to export; train first (files there: "
                       f"{', '.join(sorted(p.name for p in run_dir.glob('*.pt'))) or 'none'}).")
    if pick == "last":
        return _export_checkpoint(src, dest)
    blob = read_model_file(src)
    meta = dict(blob.get("meta", {}), exported_from=f"{run_dir.name}/{src.name}")
    net = model_from_file_contents(blob, src)
    return save_model(net, dest, blob["arch"], blob.get("kwargs", {}), meta)


def _export_checkpoint(src: Path, dest: Path) -> Path:
    """The model of a training checkpoint (``last.pt``: weights, step and config) as a model file."""
    from sci_viewer.models import build_denoiser, save_model
    from sci_viewer.training.checkpoint import load_checkpoint

    st = load_checkpoint(src)
    model = st["config"]["model"]
    net = build_denoiser(model["arch"], **model.get("kwargs", {}))
    net.load_state_dict(st["model"])
    meta = {"step": int(st["step"]), "best_val_psnr": float(st["best"]), "config": st["config"],
            "exported_from": f"{src.parent.name}/{src.name}"}
    return save_model(net, dest, model["arch"], model.get("kwargs", {}), meta)


def run(args: argparse.Namespace) -> int:
    from sci_viewer.settings import resolve_device
    from sci_viewer.training import distributed
    from sci_viewer.training.config import load_config

    args.config = training_config_path(args.config)  # a shipped config by name, e.g. dernn-default
    cfg = load_config(args.config)
    if args.threads is not None:
        cfg.threads = args.threads
    out = Path(args.out) if args.out else CHECKPOINTS / (cfg.name or Path(args.config).stem)
    if args.export:
        dest = Path(args.export)
        path = export(out, args.pick, dest if dest.suffix == ".pt" else dest.with_name(dest.name + ".pt"))
        print(f"exported {out / (args.pick + '.pt')} -> {path}")
        return 0
    ranks = distributed.from_env(resolve_device(args.device or cfg.device))
    try:
        return _train(cfg, out, args, ranks)
    finally:
        distributed.shutdown(ranks)


def _train(cfg: TrainConfig, out: Path, args: argparse.Namespace, ranks: Ranks) -> int:
    from sci_viewer.training.loop import Trainer

    trainer = Trainer(cfg, out, device=args.device, resume=args.resume, quiet=args.quiet, ranks=ranks)
    if not ranks.main:
        trainer.run(max_steps=args.max_steps)
        return 130 if trainer.interrupted else 0
    if not args.quiet:
        params = sum(p.numel() for p in trainer.net.parameters())
        print(f"training '{cfg.name}' ({params:,} parameters) on {trainer.device}: "
              f"{len(trainer.train_scenes)} scenes, "
              f"held out {', '.join(trainer.val_scenes)}; step {trainer.step}/{trainer.total}; run folder {out}"
              + (f"; {ranks.world_size} ranks" if ranks.active else ""))
    record = trainer.run(max_steps=args.max_steps)
    best = trainer.best if math.isfinite(trainer.best) else None  # no validation yet: null, not -Infinity
    if not args.quiet:
        print(json.dumps({"step": trainer.step, "best_val_psnr": best, **record}))
    if trainer.interrupted:
        print(f"stopped at step {trainer.step} of {trainer.total}; saved to {out / 'last.pt'} "
              f"(continue with --resume)", file=sys.stderr)
        return 130
    return 0
