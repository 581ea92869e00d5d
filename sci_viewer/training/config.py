"""Training configuration: a YAML file mapped onto small dataclasses (unknown keys are refused)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
import typing
from typing import Any

import yaml

from sci_viewer.errors import JobError
from sci_viewer.value_types import check_range, checked_value
from sci_viewer.solvers import AndersonSettings

#: ``deq.backward`` values: phantom (the default) | jfb (Jacobian-free) | neumann | implicit.
BACKWARDS = ("phantom", "jfb", "neumann", "implicit")
#: ``val.masks`` values.
VAL_MASKS = ("iid", "translating", "grey", "noisy")
#: ``val.kind`` values: DE-GAP solves on masked crops, or plain Gaussian denoising of the crops.
VAL_KINDS = ("deq", "denoise")


@dataclass
class DataConfig:
    root: str = ""                                  # default: settings.data_dir()/train/davis2016_val
    val_scenes: list[str] = field(default_factory=lambda: ["bmx-trees", "car-shadow", "kite-surf"])
    train_scenes: list[str] = field(default_factory=list)   # empty: every scene not held out
    frames: list[int] = field(default_factory=lambda: [8, 10])  # B drawn per step
    strides: list[int] = field(default_factory=lambda: [1, 2])  # temporal stride drawn per sample
    scales: list[int] = field(default_factory=lambda: [1, 2])   # spatial downscale drawn per sample
    mask_density: list[float] = field(default_factory=lambda: [0.5, 0.5])  # P(mask=1) range
    # share of samples whose mask translates one pixel per frame (sim.translating_mask)
    translating: float = field(default=0.0, metadata={"min": 0, "max": 1})
    # mask kinds drawn per sample (sci_viewer.simulation.MASK_KINDS: iid, translating, grey, sparse);
    # empty: binary masks as set by `translating` (the draws of earlier releases, seed for seed)
    mask_kinds: list[str] = field(default_factory=list)
    # measurement noise (DEQ stage): the share of noisy samples, photons at the brightest value
    # (log-uniform range), read noise as a fraction of it (uniform range); dark-subtracted
    noise_p: float = field(default=0.0, metadata={"min": 0, "max": 1})
    photons: list[float] = field(default_factory=lambda: [100.0, 10000.0])
    read_noise: list[float] = field(default_factory=lambda: [0.0, 0.02])

    def __post_init__(self) -> None:
        from sci_viewer.simulation import MASK_KINDS

        bad = [k for k in self.mask_kinds if k not in MASK_KINDS]
        if bad:
            raise JobError(f"data.mask_kinds: unknown kind(s) {', '.join(bad)}; known: {', '.join(MASK_KINDS)}.")
        if len(self.photons) != 2 or not 0 < self.photons[0] <= self.photons[1]:
            raise JobError(f"data.photons must be a range [low, high] above 0; got {self.photons}.")
        if len(self.read_noise) != 2 or not 0 <= self.read_noise[0] <= self.read_noise[1]:
            raise JobError(f"data.read_noise must be a range [low, high] from 0; got {self.read_noise}.")


@dataclass
class PretrainConfig:
    steps: int = 0
    batch: int = 4
    crop: int = 96
    lr: float = 5e-4
    sigma_max: float = 50 / 255
    sigma_min: float = field(default=0.0, metadata={"min": 0})  # Gaussian inputs: sigma ~ U[sigma_min, sigma_max]
    p_gaussian: float = 0.4        # plain Gaussian noise; the rest are GAP-projected errors
    p_temporal: float = 0.2        # of the projected ones: a temporal-blur error (GAP-TV-like)
    proj_sigma_max: float = 0.25   # std of the error before projection


@dataclass
class DeqConfig:
    steps: int = 0
    batch: int = 2
    crop: int = 128
    lr: float = 1e-4
    tol: float = 1e-3
    max_iter: int = 30
    anderson_m: int = 5
    beta: float = 1.0
    lam: float = 1e-4
    backward: str = "phantom"      # one of BACKWARDS (see training.fixed_point)
    phantom_k: int = 2             # phantom: f(z*) then k-1 damped steps (k<=1: same as jfb)
    phantom_damping: float = 0.5
    implicit_iters: int = 8        # neumann: series terms; implicit: max Anderson iterations of a = J^T a + g
    residual_weight: float = 0.1   # penalty on the fixed-point residual ||f(z)-z||^2/||z||^2
    denoise_weight: float = 0.0    # keep a pretraining-style denoising loss alongside
    clip: bool = False             # keep iterates in [0, 1] (DE-GAP's inference default), in training and validation
    jacobian_weight: float = 0.0   # penalty on ||J_f(z*)||_F^2 / dim (Hutchinson): pushes f towards a contraction
    # a noise-conditioned net (noise_input) is given sigma = sigma_offset/255 + the frame noise of the
    # measurement noise estimated from y (sci_viewer.noise), as DE-GAP does at inference; None: its default
    sigma_offset: float | None = None
    # the forward solve starts from GAP-TV's estimate after this many iterations, as DE-GAP does at
    # inference (0: from x0 = A^T(y / Phi_sum)); the fixed point is the same, reached in fewer iterations
    gap_tv_start: int = 0
    # DE-GAP's relaxed data step (0-255, as the algorithm's estimate_error; 0: the exact projection), with
    # the measurement noise estimated from y, in training and validation
    estimate_error: float = field(default=0.0, metadata={"min": 0, "max": 255})

    def __post_init__(self) -> None:
        if self.backward not in BACKWARDS:
            raise JobError(f"deq.backward must be one of {', '.join(BACKWARDS)}; got {self.backward!r}.")
        if self.max_iter < 1 or self.implicit_iters < 1:
            raise JobError("deq.max_iter and deq.implicit_iters must be >= 1.")
        if self.gap_tv_start < 0:
            raise JobError(f"deq.gap_tv_start must be 0 or more GAP-TV iterations, got {self.gap_tv_start}.")
        try:
            AndersonSettings(self.anderson_m, self.beta, self.lam)
        except ValueError as exc:
            raise JobError(f"deq: {exc}.") from None


@dataclass
class ValConfig:
    every_steps: int = 200         # in the pretrain stage (0: only at the stage's end)
    deq_every_steps: int = 50      # in the deq stage
    size: int = 256
    frames: int = 8
    per_scene: int = 1
    tol: float = 1e-4
    max_iter: int = 60
    # mask kinds validated on (each with its own fixed masks; val_psnr is their mean):
    # "iid" (an independent mask per frame), "translating" (sim.translating_mask), "grey" (calibrated
    # grey-level masks), "noisy" (iid masks, shot + read noise on y): see sim.validation_capture
    masks: list[str] = field(default_factory=lambda: ["iid"])
    # "deq": DE-GAP solves (the above); "denoise": Gaussian denoising PSNR of the crops at each of
    # ``sigmas`` (/255), val_psnr their mean -- the measure for a denoiser trained for PnP-GAP
    kind: str = "deq"
    sigmas: list[float] = field(default_factory=lambda: [10.0, 25.0, 50.0])

    def __post_init__(self) -> None:
        bad = [m for m in self.masks if m not in VAL_MASKS]
        if bad or not self.masks:
            raise JobError(f"val.masks must list one or more of {', '.join(VAL_MASKS)}; got {self.masks}.")
        if self.kind not in VAL_KINDS:
            raise JobError(f"val.kind must be one of {', '.join(VAL_KINDS)}; got {self.kind!r}.")
        if not self.sigmas or any(not 0 <= s <= 255 for s in self.sigmas):
            raise JobError(f"val.sigmas must list noise levels on the 0..255 scale; got {self.sigmas}.")


@dataclass
class ModelConfig:
    arch: str = "unet"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    name: str = "run"
    seed: int = 0
    device: str = "auto"
    threads: int = 0                # torch threads (0: leave torch's default)
    grad_clip: float = 1.0
    # bf16 autocast of the network's passes in both training stages (for CUDA GPUs with bf16; also
    # runs on the CPU): losses, solver, optimiser and validation stay in float32
    autocast: bool = False
    checkpoint_every_s: float = 180.0
    init_from: str = ""             # a model file (.pt) whose weights start the run (not on --resume)
    init_grow: bool = False         # init_from may be a smaller net of the same arch (see Trainer._init_from)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    deq: DeqConfig = field(default_factory=DeqConfig)
    val: ValConfig = field(default_factory=ValConfig)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise JobError(f"Section '{where}' of the training config must be a mapping.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise JobError(f"Unknown key(s) {', '.join(unknown)} in '{where}'; valid: {', '.join(sorted(fields))}.")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, val in values.items():
        sub = {"model": ModelConfig, "data": DataConfig, "pretrain": PretrainConfig, "deq": DeqConfig,
               "val": ValConfig}.get(key) if cls is TrainConfig else None
        if sub:
            kwargs[key] = _build(sub, val, key)
            continue
        name = key if cls is TrainConfig else f"{where}.{key}"
        kwargs[key] = checked_value("Training config", name, hints[key], val)
        check_range("Training config", name, fields[key].metadata, kwargs[key])
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    return _build(TrainConfig, values or {}, "top level")


def load_config(path: str | Path) -> TrainConfig:
    """Read a training YAML file."""
    path = Path(path)
    if not path.exists():
        raise JobError(f"Training config '{path}' does not exist.")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise JobError(f"Cannot read the training config '{path}': {exc}.") from None
    except yaml.YAMLError as exc:
        raise JobError(f"The training config '{path}' is not valid YAML: {exc}") from None
    return config_from_dict(values)
