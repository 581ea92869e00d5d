"""The training loop: stages ``pretrain`` (denoising) then ``deq`` (fine-tuning through DE-GAP).

The same loop trains DE-RNN (a model of kind ``recurrent``): its pretraining applies one
iteration ``RNN(v, y, Phi)`` to the same corrupted videos ``v``, and its DEQ stage solves its own
fixed point (:func:`sci_viewer.models.equilibrium_map` gives either map).

Pretraining inputs are the ground truth plus either Gaussian noise or an error that survives GAP
projection (``e - A^T(A e / Phi_sum)``: what the denoiser sees at a fixed point), never the
zero-filled start ``x0``. The DEQ stage solves ``z* = f(z*)`` with
``f(x) = D(x + A^T((y - A x) / Phi_sum))`` from ``x0 = A^T(y / Phi_sum)`` without gradients, then
attaches a phantom, Jacobian-free, Neumann or implicit gradient (:mod:`.fixed_point`, built on
:mod:`sci_viewer.solvers`). Validation runs the same DE-GAP solve on
fixed full-size crops of held-out DAVIS scenes.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from sci_viewer.algorithms.gap_tv import gap_tv_start
from sci_viewer.errors import JobError
from sci_viewer.models import RECURRENT, build_denoiser, denoise, equilibrium_map, model_kind, read_model_file, save_model
from sci_viewer.settings import resolve_device
from sci_viewer.solvers import anderson
from sci_viewer.training.checkpoint import load_checkpoint, save_checkpoint
from sci_viewer.training.config import TrainConfig
from sci_viewer.training.distributed import SINGLE, Ranks, rank_seed
from sci_viewer.training.data import VideoSampler, default_root, split_scenes, validation_set
from sci_viewer.training.fixed_point import equilibrium, max_residual, share_at_tol
from sci_viewer.training.losses import fixed_point_residual, jacobian_penalty, mse, psnr
from sci_viewer.training.sim import (BatchCacti, kind_masks, map_noise, noisy_measurements, random_masks,
                                    validation_capture)

STAGES = ("pretrain", "deq")

#: a batch's noise level for a noise-aware net ((N,) or None) and data-step weight ((N, 1, 1) or 0.0)
Noise = tuple[torch.Tensor | None, float | torch.Tensor]


def _rows(noise: Noise, rows: torch.Tensor) -> Noise:
    """The samples ``rows`` of a batch's :data:`Noise`."""
    sigma, rho = noise
    return (None if sigma is None else sigma[rows]), (rho[rows] if isinstance(rho, torch.Tensor) else rho)


def frozen(net: nn.Module, f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f`` evaluated with ``net`` in eval mode, so that one fixed-point solve sees one fixed map
    (in training mode spectral normalisation would update its power iteration at every call)."""
    def g(x: torch.Tensor) -> torch.Tensor:
        was_training = net.training
        net.eval()
        try:
            return f(x)
        finally:
            net.train(was_training)
    return g


class Trainer:
    """Runs the configured stages in ``out_dir``; ``resume`` continues from ``out_dir/last.pt``.

    ``ranks`` (:mod:`.distributed`): this process's rank in a ``torchrun`` world; each rank draws its
    own batches, gradients are averaged, rank 0 alone validates and writes the run folder."""

    def __init__(self, cfg: TrainConfig, out_dir: Path, device: str | None = None, resume: bool = False,
                 quiet: bool = False, ranks: Ranks = SINGLE) -> None:
        self.cfg = cfg
        self.ranks = ranks
        self.device = ranks.device(resolve_device(device or cfg.device))  # before the run folder is made
        self.out = Path(out_dir)
        if not resume and (self.out / "last.pt").exists():
            raise JobError(f"The run folder '{self.out}' already holds a run (last.pt); continue it with --resume, "
                           "or give another --out.")
        self.out.mkdir(parents=True, exist_ok=True)
        self.quiet = quiet or not ranks.main
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        root = Path(cfg.data.root) if cfg.data.root else default_root()
        self.train_scenes, self.val_scenes = split_scenes(root, cfg.data.val_scenes, cfg.data.train_scenes)
        self.sampler = VideoSampler(root, self.train_scenes, cfg.data.strides, cfg.data.scales)
        self.val_data = validation_set(root, self.val_scenes, cfg.val.size, cfg.val.frames, cfg.val.per_scene) \
            if self.val_scenes else None
        self.plan = [(s, getattr(cfg, s).steps) for s in STAGES if getattr(cfg, s).steps > 0]
        self.total = sum(n for _, n in self.plan)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(rank_seed(cfg.seed, ranks.rank))
        self.net = build_denoiser(cfg.model.arch, **cfg.model.kwargs).to(self.device)
        self.recurrent = model_kind(self.net) == RECURRENT
        self.step = 0
        self.best = -math.inf
        self.stage_best: dict[str, float] = {}
        self.elapsed = 0.0
        self.opt: torch.optim.Optimizer | None = None
        self.sched: torch.optim.lr_scheduler.LRScheduler | None = None
        self.opt_stage = ""
        self._stop = False
        self.interrupted = False  # stopped by a signal before the planned steps
        if resume and (self.out / "last.pt").exists():
            checkpoint = load_checkpoint(self.out / "last.pt")
            saved = checkpoint.get("config", {}).get("model", {})
            if saved and (saved.get("arch"), saved.get("kwargs")) != (cfg.model.arch, cfg.model.kwargs):
                raise JobError(f"'{self.out / 'last.pt'}' was trained as a {saved.get('arch')} {saved.get('kwargs')}; "
                               f"the config asks for {cfg.model.arch} {cfg.model.kwargs}. Resume with the run's own "
                               "model settings, or start a new run folder.")
            self._restore(checkpoint)
        elif cfg.init_from:
            self._init_from(Path(cfg.init_from))
        if ranks.rank > 0:  # a stream of its own (rank 0 keeps the single-process one, or the saved one)
            self.rng = np.random.default_rng(rank_seed(cfg.seed, ranks.rank, self.step))
            torch.manual_seed(int(self.rng.integers(2**62)))
        ranks.broadcast_module(self.net)
        self.first_loss: float | None = None

    # ----------------------------------------------------------------- state
    def _stage_at(self, step: int) -> tuple[str, int, int]:
        """(stage, step within the stage, stage length) of global ``step``."""
        start = 0
        for name, n in self.plan:
            if step < start + n:
                return name, step - start, n
            start += n
        return self.plan[-1][0], self.plan[-1][1], self.plan[-1][1]

    def _make_opt(self, stage: str) -> None:
        sc = getattr(self.cfg, stage)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=sc.lr)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, sc.steps), eta_min=sc.lr * 0.02)
        self.opt_stage = stage

    def _state(self) -> dict[str, Any]:
        return {
            "config": self.cfg.as_dict(), "step": self.step, "best": self.best, "elapsed": self.elapsed,
            "stage_best": self.stage_best,
            "model": self.net.state_dict(), "opt_stage": self.opt_stage,
            "opt": self.opt.state_dict() if self.opt else None,
            "sched": self.sched.state_dict() if self.sched else None,
            "np_rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
        }

    def _restore(self, st: dict[str, Any]) -> None:
        self.net.load_state_dict(st["model"])
        self.step, self.best, self.elapsed = int(st["step"]), float(st["best"]), float(st.get("elapsed", 0.0))
        self.stage_best = dict(st.get("stage_best", {}))
        self.rng.bit_generator.state = st["np_rng"]
        torch.set_rng_state(st["torch_rng"])
        if st.get("opt_stage") and st.get("opt"):
            stage = st["opt_stage"]
            self._make_opt(stage)
            assert self.opt is not None and self.sched is not None
            self.opt.load_state_dict(st["opt"])
            self.sched.load_state_dict(st["sched"])
            # a changed config (steps, lr) applies from here on
            sc = getattr(self.cfg, stage)
            self.sched.T_max = max(1, sc.steps)
            self.sched.base_lrs = [sc.lr for _ in self.sched.base_lrs]
            self.sched.eta_min = sc.lr * 0.02

    def _init_from(self, path: Path) -> None:
        """Start from a model file of the configured net; with ``init_grow``, from a smaller net of the
        same arch: every tensor it has must fit, and the network's ``grow_from`` makes the new parts
        start as the identity, so the grown net computes what the small one did."""
        blob = read_model_file(path)
        same_arch = blob.get("arch") == self.cfg.model.arch
        if not same_arch or (blob.get("kwargs", {}) != self.cfg.model.kwargs and not self.cfg.init_grow):
            raise JobError(f"init_from '{path}' is a {blob.get('arch')} {blob.get('kwargs')}, "
                           f"the config asks for {self.cfg.model.arch} {self.cfg.model.kwargs}.")
        if not self.cfg.init_grow:
            self.net.load_state_dict(blob["state_dict"])
            return
        grow = getattr(self.net, "grow_from", None)
        if grow is None:
            raise JobError(f"init_grow: the '{self.cfg.model.arch}' network cannot be grown from a smaller one.")
        try:
            grow(blob["state_dict"])
        except ValueError as exc:
            raise JobError(f"init_grow: '{path}' does not fit inside {self.cfg.model.kwargs}: {exc}") from None

    def save(self) -> None:
        if not self.ranks.main:
            return
        save_checkpoint(self.out / "last.pt", self._state())

    def export(self, path: Path, extra: dict[str, Any] | None = None) -> Path:
        meta = {"step": self.step, "best_val_psnr": self.best, "train_scenes": self.train_scenes,
                "val_scenes": self.val_scenes, "config": self.cfg.as_dict(), **(extra or {})}
        if not self.ranks.main:
            return path
        return save_model(self.net, path, self.cfg.model.arch, self.cfg.model.kwargs, meta)

    def log(self, record: dict[str, Any]) -> None:
        if not self.ranks.main:
            return
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    # ----------------------------------------------------------------- steps
    def _batch(self, batch: int, crop: int) -> tuple[torch.Tensor, BatchCacti]:
        b = int(self.rng.choice(self.cfg.data.frames))
        gt = self.sampler.sample(self.rng, batch, b, crop)
        lo, hi = self.cfg.data.mask_density
        if self.cfg.data.mask_kinds:
            mask = kind_masks(self.rng, batch, b, crop, crop, (lo, hi), self.cfg.data.mask_kinds)
        else:
            mask = random_masks(self.rng, batch, b, crop, crop, (lo, hi), self.cfg.data.translating)
        return gt.to(self.device), BatchCacti(mask.to(self.device))

    def _measure(self, gt: torch.Tensor, op: BatchCacti) -> torch.Tensor:
        """The training measurement of ``gt``: ``A gt``, with sensor noise on a share ``data.noise_p``."""
        dc = self.cfg.data
        return noisy_measurements(self.rng, op.A(gt), dc.noise_p, tuple(dc.photons), tuple(dc.read_noise))

    def _pretrain_inputs(self, gt: torch.Tensor, op: BatchCacti) -> tuple[torch.Tensor, torch.Tensor]:
        pc = self.cfg.pretrain
        n = gt.shape[0]
        inputs, sigmas = [], []
        for i in range(n):
            g, one = gt[i : i + 1], BatchCacti(op.mask[i : i + 1])
            u = self.rng.random()
            noise = torch.from_numpy(self.rng.standard_normal(g.shape).astype(np.float32)).to(g.device)
            if u < pc.p_gaussian:
                s = float(self.rng.uniform(pc.sigma_min, pc.sigma_max))
                e = s * noise
                inputs.append(g + e)
                sigmas.append(s)  # the true level: what a noise-conditioned net is told at inference
                continue
            else:
                s = float(self.rng.uniform(0.01, pc.proj_sigma_max))
                if self.rng.random() < pc.p_temporal:
                    blur = g.mean(1, keepdim=True).expand_as(g) - g
                    e = float(self.rng.uniform(0.1, 1.0)) * blur + 0.1 * s * noise
                else:
                    k = int(self.rng.choice([1, 2, 4]))   # white or smooth error
                    e = s * noise
                    if k > 1:
                        e = F.interpolate(F.avg_pool2d(e, k), size=g.shape[-2:], mode="bilinear", align_corners=False) * k
                e = one.project_error(e)
            v = g + e
            inputs.append(v)
            sigmas.append(float(e.std()))
        return torch.cat(inputs), torch.tensor(sigmas, device=gt.device)

    def _denoise(self, gt: torch.Tensor, op: BatchCacti) -> torch.Tensor:
        """The model applied once to corrupted ground truth: a denoiser to ``v``, DE-RNN one iteration from ``v``."""
        v, sig = self._pretrain_inputs(gt, op)
        if self.recurrent:
            return self._amp(lambda u: self.net.iterate(u, op, op.A(gt)))(v)  # type: ignore[operator]
        return self._amp(lambda u: denoise(self.net, u, sig, op))(v)

    def _amp(self, f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """``f`` under bf16 autocast when the config asks for it (its result in float32)."""
        if not self.cfg.autocast:
            return f

        def g(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return f(x).float()
        return g

    def _pretrain_step(self) -> dict[str, float]:
        pc = self.cfg.pretrain
        gt, op = self._batch(pc.batch, pc.crop)
        out = self._denoise(gt, op)
        loss = mse(out, gt)
        self._update(loss)
        return {"loss": loss.item(), "psnr": psnr(out.detach(), gt)}

    def _deq_step(self) -> dict[str, float]:
        dc = self.cfg.deq
        gt, op = self._batch(dc.batch, dc.crop)
        y = self._measure(gt, op)
        noise = self._noise(op, y)  # estimated once; a restricted map takes its rows of it
        f = self._amp(self._map(op, y, noise))
        # each sample's solve stops at its own tol: the map of the rows still iterating
        restrict = lambda rows: frozen(self.net, self._amp(  # noqa: E731
            self._map(BatchCacti(op.mask[rows]), y[rows], _rows(noise, rows))))
        start = gap_tv_start(op, y, dc.gap_tv_start, "deq")  # type: ignore[arg-type]  # 0: op.initial(y)
        eq = equilibrium(f, start, dc, solve_map=frozen(self.net, f), restrict=restrict)
        z = eq.z
        loss = mse(z, gt)
        total = loss
        if dc.residual_weight > 0:
            total = total + dc.residual_weight * fixed_point_residual(eq.fz, eq.z_star)
        if dc.denoise_weight > 0:
            total = total + dc.denoise_weight * mse(self._denoise(gt, op), gt)
        stats = {}
        if dc.jacobian_weight > 0:
            jac = jacobian_penalty(f, eq.z_star)
            total = total + dc.jacobian_weight * jac
            stats["jac"] = jac.item()
        self._update(total)
        return {"loss": loss.item(), "psnr": psnr(z.detach(), gt), "iters": eq.info.iterations,
                "res": max_residual(eq.info), **stats}

    def _noise(self, op: BatchCacti, y: torch.Tensor) -> Noise:
        """What the map takes from each sample's measurement noise (:func:`map_noise`): the noise-aware
        net's level (``deq.sigma_offset``) and the relaxed data step's weight (``deq.estimate_error``)."""
        dc = self.cfg.deq
        noise_aware = dc.sigma_offset is not None and getattr(self.net, "noise_input", False)
        return map_noise(y, op.mask, dc.sigma_offset / 255.0 if noise_aware else None,  # type: ignore[operator]
                         dc.estimate_error / 255.0)

    def _map(self, op: BatchCacti, y: torch.Tensor, noise: Noise | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model's fixed-point map (``deq.clip``: iterates kept in [0, 1], and ``deq.estimate_error``:
        the relaxed data step, as at inference); ``noise``: :meth:`_noise` of ``y``, when already known."""
        sigma, rho = self._noise(op, y) if noise is None else noise
        return equilibrium_map(self.net, op, y, sigma, clip=self.cfg.deq.clip, rho=rho)

    def _update(self, loss: torch.Tensor) -> None:
        assert self.opt is not None and self.sched is not None
        if self.ranks.any(not bool(torch.isfinite(loss)), self.device):
            raise FloatingPointError(f"non-finite loss at step {self.step}")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.ranks.average_gradients(list(self.net.parameters()))
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.sched.step()

    # ------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """DE-GAP on the held-out crops with fixed random masks of each kind in ``val.masks``: PSNR
        (the mean over the kinds, and each kind's), iterations, residual, share of solves at tol."""
        if self.val_data is None:
            return {}
        if self.cfg.val.kind == "denoise":
            return self._validate_denoise()
        vc = self.cfg.val
        gt = self.val_data.to(self.device)
        was_training = self.net.training
        self.net.eval()
        out: dict[str, float] = {}
        psnrs, iters, residuals, reached = [], [], [], []
        for kind in vc.masks:
            # the iid masks are those of earlier releases, so their figures stay comparable
            op, y = validation_capture(kind, gt)
            z, info = anderson(self._map(op, y), op.initial(y), m=self.cfg.deq.anderson_m, beta=self.cfg.deq.beta,
                               lam=self.cfg.deq.lam, tol=vc.tol, max_iter=vc.max_iter)
            psnrs.append(psnr(z, gt))
            iters.append(info.iterations)
            residuals.append(max_residual(info))
            reached.append(share_at_tol(info, vc.tol))
            if len(vc.masks) > 1:
                out[f"val_psnr_{kind}"] = psnrs[-1]
        self.net.train(was_training)
        # val_reached: the share of the validation solves that reached val.tol within val.max_iter; below 1
        # the PSNR is that of an iterate, not of the fixed point inference converges to (above or below it)
        return {"val_psnr": float(np.mean(psnrs)), "val_iters": max(iters), "val_residual": max(residuals),
                "val_reached": float(np.mean(reached)), **out}

    @torch.no_grad()
    def _validate_denoise(self) -> dict[str, float]:
        """Gaussian denoising of the held-out crops at each ``val.sigmas`` (fixed noise): PSNR per level
        and their mean as ``val_psnr``. A recurrent model has no denoising form: DE-GAP validation only."""
        if self.recurrent:
            raise JobError("val.kind: denoise needs a denoiser; DE-RNN is validated by its fixed point (kind: deq).")
        gt = self.val_data.to(self.device)  # type: ignore[union-attr]
        gen = torch.Generator().manual_seed(4323)
        noise = torch.randn(gt.shape, generator=gen).to(self.device)
        op = BatchCacti(torch.ones_like(gt))  # for a mask-aware net: uniform frame weights
        was_training = self.net.training
        self.net.eval()
        out: dict[str, float] = {}
        for level in self.cfg.val.sigmas:
            s = level / 255.0
            den = torch.cat([denoise(self.net, gt[i : i + 1] + s * noise[i : i + 1], s, BatchCacti(op.mask[i : i + 1]))
                             for i in range(gt.shape[0])])
            out[f"val_psnr_s{level:g}"] = psnr(den, gt)
        self.net.train(was_training)
        return {"val_psnr": float(np.mean(list(out.values()))), "val_iters": 0, "val_residual": 0.0, **out}

    # ------------------------------------------------------------------ run
    def _handle_signal(self, *_: Any) -> None:
        self._stop = True
        self.interrupted = True

    def run(self, max_steps: int | None = None) -> dict[str, Any]:
        """Train until the plan is done (or ``max_steps`` more steps); returns the last record."""
        # SIGTERM and Ctrl-C both stop after the current step and save there (resume with --resume)
        signals = (signal.SIGTERM, signal.SIGINT)
        old = {sig: signal.signal(sig, self._handle_signal) for sig in signals} if _main_thread() else {}
        end = self.total if max_steps is None else min(self.total, self.step + max_steps)
        bar = tqdm(total=self.total, initial=self.step, disable=self.quiet, dynamic_ncols=True)
        last_ckpt = time.monotonic()
        record: dict[str, Any] = {}
        self.log({"event": "start", "step": self.step, "world_size": self.ranks.world_size,
                  "device": str(self.device), "resumed": self.step > 0})
        if self.step == 0 and self.cfg.init_from and self.plan and end > 0:
            # the starting model competes for "best" too: fine-tuning must beat it to replace it
            self._validate_and_keep(self.plan[0][0])
        try:
            stop = False  # agreed by all ranks (a signal's own flag may differ between them for a moment)
            while self.step < end and not stop:
                stage, k, n = self._stage_at(self.step)
                if self.opt_stage != stage:
                    if self.opt_stage:
                        self.export(self.out / f"{self.opt_stage}_final.pt")
                    self._make_opt(stage)
                t0 = time.monotonic()
                stats = self._pretrain_step() if stage == "pretrain" else self._deq_step()
                self.elapsed += time.monotonic() - t0
                if self.first_loss is None:
                    self.first_loss = stats["loss"]
                self.step += 1
                record = {"step": self.step, "stage": stage, "lr": self.opt.param_groups[0]["lr"],  # type: ignore[union-attr]
                          "time_s": round(self.elapsed, 2), **stats}
                if self.step % 10 == 0 or self.step == end:
                    self.log(record)
                bar.update(1)
                stop = self.ranks.any(self._stop, self.device)  # all ranks stop after the same step
                self.interrupted = self.interrupted or stop
                bar.set_postfix(stage=stage, loss=f"{stats['loss']:.2e}", psnr=f"{stats['psnr']:.2f}")
                last_stage_step = k + 1 == n
                every = self.cfg.val.deq_every_steps if stage == "deq" else self.cfg.val.every_steps
                if every > 0 and ((k + 1) % every == 0 or last_stage_step):
                    self._validate_and_keep(stage)
                if time.monotonic() - last_ckpt > self.cfg.checkpoint_every_s or last_stage_step:
                    self.save()
                    last_ckpt = time.monotonic()
            self.save()
            if self.step >= self.total and self.plan:
                self.export(self.out / f"{self.plan[-1][0]}_final.pt")
        finally:
            bar.close()
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return record

    def _validate_and_keep(self, stage: str) -> None:
        """Validate on rank 0 (the other ranks wait) and keep the best models."""
        if self.ranks.main:
            self._validate_on_main(stage)
        self.ranks.barrier()

    def _validate_on_main(self, stage: str) -> None:
        t0 = time.monotonic()
        val = self.validate()
        if not val:
            return
        rec = {"step": self.step, "stage": stage, "val_time_s": round(time.monotonic() - t0, 1), **val}
        self.log(rec)
        if not self.quiet:
            tqdm.write(json.dumps(rec))
        if val["val_psnr"] > self.best and val["val_residual"] < 1e-2:
            self.best = val["val_psnr"]
            self.export(self.out / "best.pt", {"val": val})
        # per-stage best too, so a stage's best is never lost to a later stage's selection
        if val["val_psnr"] > self.stage_best.get(stage, -math.inf):
            self.stage_best[stage] = val["val_psnr"]
            self.export(self.out / f"best_{stage}.pt", {"val": val})


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
