"""Any trained model on a training config's held-out validation set: the figure model selection uses.

Runs the validation of ``sci-viewer train`` (:meth:`sci_viewer.training.loop.Trainer.validate`: the
config's ``val`` section on fixed crops of its held-out scenes) for each ``--model``, so that models
trained by different configs, or shipped ones, are compared on one set without training anything:
DE-GAP (or DE-RNN) PSNR per mask kind of ``val.masks``, iterations and residual, or with ``val.kind:
denoise`` the Gaussian denoising PSNR at ``val.sigmas``. The held-out scenes are never benchmark scenes.

    sci-viewer bench validation --config resources/train/degap-sigma.yaml --model degap-default --model unet-sigma
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="training YAML (or a shipped config's name) whose val section to use")
    p.add_argument("--model", action="append", required=True, help="model name or .pt file (repeat for several)")
    p.add_argument("--sigma-offset", type=float, action="append",
                   help="deq.sigma_offset (0-255) for noise-aware models (repeat to compare; default: the config's)")
    p.add_argument("--device", default="cpu", help="cpu | cuda[:N]")
    p.add_argument("--json", help="write the rows here")


def validate_model(cfg: Any, model: str, device: str, sigma_offset: float | None = None) -> dict[str, Any]:
    """Validation figures of ``model`` under ``cfg``'s ``val`` section (``sigma_offset``: the deq one)."""
    from sci_viewer.models import load_model
    from sci_viewer.training.loop import Trainer

    deq = cfg.deq if sigma_offset is None else dataclasses.replace(cfg.deq, sigma_offset=sigma_offset)
    cfg = dataclasses.replace(cfg, init_from="", deq=deq)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), device=device, quiet=True)
        trainer.net = load_model(model, trainer.device)
        t0 = time.perf_counter()
        out = trainer.validate()
    return {"model": model, "sigma_offset": deq.sigma_offset, "seconds": time.perf_counter() - t0, **out}


def _reached(row: dict[str, Any]) -> str:
    """The share of validation solves that reached tol (a DE-GAP validation; a denoising one has none)."""
    return "" if row.get("val_reached") is None else f"  at tol {100 * row['val_reached']:.0f} %"


def run(args: argparse.Namespace) -> int:
    from sci_viewer.locations import training_config_path
    from sci_viewer.training.config import load_config

    cfg = load_config(training_config_path(args.config))
    rows = []
    print(f"{args.config}: held-out scenes {', '.join(cfg.data.val_scenes)}, val kind {cfg.val.kind}, "
          f"{cfg.val.per_scene} crop(s) of {cfg.val.size} px x {cfg.val.frames} frames per scene")
    for model in args.model:
        for offset in args.sigma_offset or [None]:
            row = validate_model(cfg, model, args.device, offset)
            rows.append(row)
            extra = "  ".join(f"{k[len('val_'):]} {v:.2f}" for k, v in row.items()
                              if k.startswith("val_psnr_") and isinstance(v, float))
            print(f"{model:28} sigma_offset {row['sigma_offset']!s:5} val_psnr {row['val_psnr']:.2f} dB  {extra}  "
                  f"iterations {row['val_iters']}  residual {row['val_residual']:.1e}{_reached(row)}  ({row['seconds']:.0f} s)",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0
