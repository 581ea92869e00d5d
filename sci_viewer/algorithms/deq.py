"""DE-GAP: deep-equilibrium GAP. Solve ``x* = f(x*)``, ``f(x) = D(x + A^T((y - A x) / Phi_sum))``.

The map is the GAP projection followed by a learned denoiser ``D`` (``sci_viewer.models``); the
fixed point is found by Anderson acceleration (or plain iteration) from ``x0 = A^T(y / Phi_sum)``
(or from GAP-TV's estimate after ``gap_tv_start`` iterations), and the solver stops on the
relative residual ``||f(x) - x|| / ||f(x)|| <= tol``. There is no step count to tune: ``max_iter``
is only a cap. Any mask, any B, any frame size.

Each engine iteration is one evaluation of ``f``; the estimate shown is ``f(x_k)`` (the
denoiser's output) and the residual is that of the iterate ``x_k``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import torch
import torch.nn as nn

from sci_viewer.algorithms.base import AlgorithmSpec, register_algorithm
from sci_viewer.algorithms.deq_batch import join_equilibrium_solvers
from sci_viewer.algorithms.gap_tv import GAP_TV_START_FIELD, gap_tv_start
from sci_viewer.errors import JobError
from sci_viewer.models import DENOISER, auto, denoiser_model_names, equilibrium_map, model_kind, takes_relaxed_step
from sci_viewer.noise import estimate_measurement_sigma, frame_sigma, noise_tolerance, relaxation
from sci_viewer.physics import Cacti
from sci_viewer.solvers import AndersonIterator, AndersonSettings, FixedPointIterator, FixedPointSettings
from sci_viewer.solvers.safeguard import SafeguardAction, SafeguardedIterator

_CACHE: dict[tuple[str, float, str], nn.Module] = {}
_CACHE_LOCK = threading.Lock()


def get_denoiser(name: str, device: torch.device | str) -> nn.Module:
    """The trained denoiser ``name`` (model name or ``.pt`` path) on ``device``, in eval mode.

    Loaded once per (file, modification time, device) and shared; raises :class:`JobError` with
    what to do when the model does not exist.
    """
    from sci_viewer.models import find_model, load_model

    try:
        path, _ = find_model(name)  # a file, or NAME.pt in the bundled, user or $SCI_MODELS_DIR folders
    except JobError:
        path = Path(name)  # load_model says what is wrong below
    mtime = path.stat().st_mtime if path.exists() else -1.0
    key = (str(path.resolve()) if path.exists() else str(name), mtime, str(torch.device(device)))
    with _CACHE_LOCK:
        net = _CACHE.get(key)
        if net is None:
            try:
                # Parameters made inside the engine's inference_mode would be inference tensors.
                with torch.inference_mode(False):
                    net = load_model(name, device)
            except JobError as exc:
                raise JobError(
                    f"The model '{name}' could not be loaded: {exc} DE-GAP, PnP-GAP and DE-RNN need a "
                    "trained model: pass --model NAME or a .pt file, or train one with 'sci-viewer train'."
                ) from None
            for p in net.parameters():
                p.requires_grad_(False)
            _CACHE[key] = net
        return net


def clear_model_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


#: The default ``estimate_error`` (0-255) of DE-GAP and DE-RNN. Chosen on 18 captures simulated from
#: the held-out DAVIS scenes at B = 12 (a B the generalization table does not use), 256 px, i.i.d. and grey masks, no /
#: moderate / strong noise (``sci-viewer bench generalization --frames 12 --sizes 256 --kinds iid,grey
#: --algos "gap-tv,de-gap:estimate_error=0,...=5,...=10,...=20"``): mean over GAP-TV +0.13 dB for the
#: exact projection (0), +1.78 (5), +1.70 (10), +1.10 (20); worst capture -0.94, -0.88, -0.28, -0.25
#: (2026-12-07, with the per-frame local fit of :func:`sci_viewer.noise.estimate_measurement_sigma`; with
#: the earlier fit ``y ~ a + c * sum_b mask_b``: +1.74, +1.67, +1.08, worst -1.35, -0.44, -0.19).
#: 10 keeps most of the gain on noisy captures (+2.4 to +6.1 dB over GAP-TV on strong noise) at a small
#: cost on noiseless textured ones, where the noise estimate reads scene structure as noise (-0.27 dB at
#: worst against the exact projection).
#: DE-RNN on the same captures, with the earlier fit (``--algos "gap-tv,de-rnn:estimate_error=0,...=10,...=20"``):
#: +0.05, +1.27, +0.80 dB; worst -0.90, -1.39, -1.01.
ESTIMATE_ERROR = 10.0

NOISE_FIELD = {"min": 0, "help": "measurement noise std (0-255 frame scale) for a noise-aware model and the relaxed "
                                  "data step; empty: estimated from the capture"}
ENSEMBLE_FIELD = {"help": "denoiser self-ensemble: the network averaged over 1, 2, 4 or 8 flips and transposes of its "
                          "input, each a network call (1: the network alone)"}
ESTIMATE_ERROR_FIELD = {
    "min": 0, "max": 255,
    "help": "expected RMS error (0-255) of the estimate: the data step weighs the measurement noise sigma_y against "
            "it, x = v + A^T((y - A v) / (Phi_sum + (sigma_y / estimate_error)^2)), so that a noisy capture's noise "
            "is not copied into every frame; 0: the exact GAP projection"}


NOISY_TOL_FIELD = {"min": 0, "help": "on a noisy measurement the tolerance rises with its estimated noise: tol up "
                                      "to 10/255, noisy_tol from 30/255 (0: tol whatever the noise)"}


@dataclass
class EquilibriumSettings:
    """A fixed-point solve (DE-GAP, DE-RNN). ``tol``: stop when ``||f(x)-x|| / ||f(x)|| <= tol``;
    ``max_iter``: cap on evaluations of f. ``anderson``: Anderson acceleration (else damped plain
    iteration) with ``history`` iterates, damping ``beta`` and relative regularisation ``lam``.
    ``clip`` solves ``x* = clip(f(x*), 0, 1)``: the fixed point within the frames' range."""

    model: str = field(default="degap-default", metadata={"help": "trained denoiser: model name or .pt file",
                                                         "suggestions": denoiser_model_names})
    tol: float = field(default=1e-4, metadata={"min": 0, "help": "stop when ||f(x)-x|| / ||f(x)|| <= tol"})
    max_iter: int = field(default=100, metadata={"min": 1, "help": "cap on evaluations of f"})
    anderson: bool = field(default=True, metadata={"help": "Anderson acceleration (off: plain iteration)"})
    history: int = field(default=5, metadata={"min": 1, "help": "Anderson history m"})
    beta: float = field(default=1.0, metadata={"above": 0, "max": 2, "help": "damping (1: none)"})
    lam: float = field(default=1e-4, metadata={"min": 0,
                                               "help": "relative regularisation of Anderson's least squares"})
    clip: bool = field(default=True, metadata={
        "help": "keep every iterate in [0, 1], the frames' range (off: the unconstrained fixed point)"})
    # Off in the base (DE-RNN lands further from its fixed point from it); DE-GAP turns it on.
    gap_tv_start: int = field(default=0, metadata=GAP_TV_START_FIELD)
    safeguard: bool = field(default=True, metadata={
        "help": "on a stall (the residual stops falling), fall back: restart Anderson from the best iterate, "
                "then damped Anderson, then damped plain iteration; each is noted in the log and the report"})
    noise: float | None = field(default=None, metadata=NOISE_FIELD)
    estimate_error: float = field(default=ESTIMATE_ERROR, metadata=ESTIMATE_ERROR_FIELD)
    # Off in the base; DE-GAP turns it on. DE-RNN (tol 1e-4, from x0) lands further from its fixed
    # point: noisy_tol 3e-4 cost it 0.3-0.8 dB on three of four held-out noisy B = 12 captures.
    noisy_tol: float = field(default=0.0, metadata=NOISY_TOL_FIELD)


@dataclass
class DeGapSettings(EquilibriumSettings):
    """:class:`EquilibriumSettings`, and ``sigma`` (0-255 scale), passed to a noise-conditioned
    denoiser (``None``: the model's own default)."""

    # Chosen together on held-out DAVIS crops (`sci-viewer bench tol-drift`; `--gap-tv-start 0` for
    # x0). With the default model, from x0 the PSNR at tol 3e-5 is within 0.017 dB of its K=300
    # value after 49.7 iterations on average; from 20 GAP-TV iterations, tol 2e-5 is within
    # 0.015 dB after 34.3.
    tol: float = field(default=2e-5, metadata={"min": 0, "help": "stop when ||f(x)-x|| / ||f(x)|| <= tol"})
    gap_tv_start: int = field(default=20, metadata=GAP_TV_START_FIELD)
    # Chosen on 12 held-out noisy captures (B = 12, i.i.d. and grey masks, moderate and strong noise:
    # `sci-viewer bench generalization --frames 12 --sizes 256 --kinds iid,grey --noise moderate,strong
    # --algos "gap-tv,de-gap,de-gap:tol=5e-5,de-gap:tol=1e-4"`, 2026-12-07): over GAP-TV +2.70 dB at
    # tol 2e-5 (73 iterations on average, 8 of 12 at tol), +2.72 at 5e-5 (55, 10 of 12), +2.67 at 1e-4
    # (34, 12 of 12). Noiseless captures (noise 10/255 or less) keep tol. The ramp from 10 to 30/255 on
    # 18 held-out B = 12 captures, noiseless ones included (`... --noise none,moderate,strong --algos
    # "gap-tv,de-gap,de-gap:noisy_tol=0"`): +1.83 against +1.85 dB over GAP-TV, 44 against 68
    # iterations, 15 against 12 of 18 at tol, 12.5 against 18.7 s a measurement.
    noisy_tol: float = field(default=1e-4, metadata=NOISY_TOL_FIELD)
    model: str = field(default=auto.AUTO, metadata={
        "help": f"trained denoiser: model name or .pt file; auto: {auto.CLEAN_MODEL}, or {auto.NOISY_MODEL} for a "
                f"measurement whose noise is at least {auto.NOISE_THRESHOLD:g}/255", "suggestions": auto.suggestions})
    sigma: float | None = field(default=None, metadata={
        "help": "noise level (0-255) for a noise-conditioned denoiser; empty: the model's default, or for a "
                "noise-aware model its rule from the measurement noise"})
    ensemble: Literal[1, 2, 4, 8] = field(default=1, metadata=ENSEMBLE_FIELD)


def check_model_kind(net: nn.Module, name: str, expected: str, label: str) -> None:
    """Refuse a model of the wrong kind with the algorithm that does take it."""
    kind = model_kind(net)
    if kind != expected:
        other = "DE-RNN (de-rnn)" if kind != DENOISER else "DE-GAP (de-gap) or PnP-GAP (pnp-gap)"
        raise JobError(f"The model '{name}' is a {kind} model, which {label} cannot use; "
                       f"run it with {other}, or choose a {expected} model.")


def noise_rule(net: nn.Module) -> float | None:
    """A noise-aware model's ``sigma_offset`` (0-255): trained with ``deq.sigma_offset``, it is given
    ``offset + frame noise of the measurement noise`` (:func:`map_sigma`); None for other models."""
    if not getattr(net, "noise_input", False):
        return None
    offset = getattr(net, "model_meta", {}).get("config", {}).get("deq", {}).get("sigma_offset")
    return None if offset is None else float(offset)


def measurement_noise(op: Cacti, y: torch.Tensor, noise: float | None) -> float:
    """The measurement noise std (y's units): ``noise`` (0-255) when given, else estimated from ``y``
    (:func:`sci_viewer.noise.estimate_measurement_sigma`)."""
    if noise is not None:
        return noise / 255.0
    return estimate_measurement_sigma(y.detach().cpu().numpy(), op.mask.detach().cpu().numpy())


def noise_note(op: Cacti, noise_y: float, estimated: bool, rho: float = 0.0) -> str:
    """The measurement noise (y's units) for the log and the report, and with ``rho`` > 0 the relaxed
    data step's weight and how much of an exact projection the measurement keeps."""
    text = f"measurement noise {noise_y * 255:.2f}/255 ({'estimated from the capture' if estimated else 'given'})"
    if rho > 0:
        phi = float(op.phi_sum.mean())
        text += (f"; relaxed data step rho = {rho:.3g} (mean Phi_sum {phi:.3g}: the measurement weighs "
                 f"{phi / (phi + rho):.0%} of an exact projection)")
    return text


def map_sigma(net: nn.Module, op: Cacti, y: torch.Tensor, sigma: float | None, noise: float | None,
              rho: float = 0.0) -> float | None:
    """The noise level (0-1 scale) DE-GAP's map gives the denoiser: ``sigma`` (0-255) when set; for a
    noise-aware model (:func:`noise_rule`) its offset plus the frame noise
    (:func:`sci_viewer.noise.frame_sigma`, after the data step relaxed by ``rho``) of the measurement
    noise ``noise`` (0-255, :func:`measurement_noise`); else None (the model's default)."""
    if sigma is not None:
        return sigma / 255.0
    offset = noise_rule(net)
    if offset is None:
        return None
    return offset / 255.0 + frame_sigma(measurement_noise(op, y, noise), op.mask.detach().cpu().numpy(), rho)


class DeGapSolver:
    """One measurement's equilibrium solve, one evaluation of ``f`` per :meth:`step`.

    ``f`` is the model's :func:`~sci_viewer.models.equilibrium_map`: DE-GAP's for a denoiser,
    DE-RNN's for a recurrent model (:mod:`sci_viewer.algorithms.dernn` reuses this class).
    """

    label = "DE-GAP"
    model_kind = DENOISER
    #: whether the model setting ``auto`` (:mod:`sci_viewer.models.auto`) is understood
    auto_model = True

    def __init__(self, op: Cacti, y: torch.Tensor, settings: EquilibriumSettings, x0: torch.Tensor | None = None,
                 net: nn.Module | None = None) -> None:
        if settings.max_iter < 1:
            raise JobError(f"{self.label} max_iter must be at least 1, got {settings.max_iter}.")
        if settings.tol < 0:
            raise JobError(f"{self.label} tol must be 0 or more (0: run to max_iter), got {settings.tol}.")
        self.op, self.y, self.s = op, y, settings
        sigma, noise, error = getattr(settings, "sigma", None), settings.noise, settings.estimate_error / 255.0
        #: the measurement noise std (y's units), where the model choice, the model or the data step uses it
        self.noise_y: float | None = None
        #: the model solved with (``auto`` resolved to the model it chose)
        self.model_name, chose = settings.model, []
        if net is None and settings.model == auto.AUTO and not self.auto_model:
            raise JobError(f"The model 'auto' is DE-GAP's choice between {auto.CLEAN_MODEL} and {auto.NOISY_MODEL}; "
                           f"{self.label} takes a {self.model_kind} model: choose one by name or file.")
        if net is None and settings.model == auto.AUTO:
            self.noise_y = measurement_noise(op, y, noise)
            self.model_name = auto.choose(self.noise_y * 255.0)
            chose = [auto.describe(self.noise_y * 255.0, noise is None)]
        self.net = net if net is not None else get_denoiser(self.model_name, y.device)
        check_model_kind(self.net, self.model_name, self.model_kind, self.label)
        self.max_iter = settings.max_iter
        #: why the data step is exact although estimate_error asks for the relaxed one
        self.exact_why = "" if error <= 0 or takes_relaxed_step(self.net) else \
            "this model's iterate takes no relaxed data step (no 'rho' argument): the exact GAP projection"
        if self.exact_why:
            error = 0.0
        if self.noise_y is None and (error > 0 or settings.noisy_tol > settings.tol > 0
                                     or (sigma is None and noise_rule(self.net) is not None)):
            self.noise_y = measurement_noise(op, y, noise)
        #: the tolerance this measurement is solved to (raised on a noisy one, see noise_tolerance)
        self.tol = settings.tol if self.noise_y is None else noise_tolerance(settings.tol, settings.noisy_tol,
                                                                              self.noise_y)
        self.rho = relaxation(self.noise_y, error) if self.noise_y is not None else 0.0
        self.sigma = map_sigma(self.net, op, y, sigma, None if self.noise_y is None else self.noise_y * 255.0,
                               self.rho)
        self.notes = chose + self._notes(noise is None) + ([self.exact_why] if self.exact_why else [])
        if self.tol != settings.tol:
            self.notes.append(f"tol {self.tol:.2g} instead of {settings.tol:g}: on a noisy measurement the data fix "
                              "the frames only to within their noise (noisy_tol; 0 keeps tol)")
        # Unclipped, DE-GAP stalls on traffic48 #0 at a residual of 1.3e-4 with a few pixels wandering
        # to -0.5 and 1.6, outside anything the denoiser was trained on.
        self.map = equilibrium_map(self.net, op, y, self.sigma, clip=settings.clip, rho=self.rho,
                                   ensemble=getattr(settings, "ensemble", 1))
        self.start = (self._start(op, y, settings.gap_tv_start) if x0 is None else x0.to(y.dtype)).unsqueeze(0)
        self.iterator = self.make_iterator(self.map, self.start)
        self.residual = float("inf")

    def _notes(self, estimated: bool) -> list[str]:
        """What the solve took from the measurement noise, for the log and the report."""
        if self.noise_y is None:
            return []
        text = noise_note(self.op, self.noise_y, estimated, self.rho)
        if self.sigma is not None:
            text += f"; denoiser told sigma {self.sigma * 255:.2f}/255"
        return [text]

    def make_iterator(self, f: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor,
                      tol: float | torch.Tensor | None = None) -> AndersonIterator | FixedPointIterator | SafeguardedIterator:
        """The root finder the settings choose (Anderson or damped plain iteration) for ``f`` from
        ``start`` (N, B, H, W); also used for several measurements at once (:mod:`.deq_batch`), with
        ``tol`` per measurement (N,) (default: this solver's)."""
        settings = self.s
        anderson = None
        if settings.anderson:
            try:
                anderson = AndersonSettings(settings.history, settings.beta, settings.lam)
            except ValueError as exc:
                raise JobError(f"{self.label}: {exc}.") from None
        if getattr(settings, "safeguard", False):  # a stall falls back (sci_viewer.solvers.safeguard)
            return SafeguardedIterator(f, start, anderson, tol=self.tol if tol is None else tol,
                                       plain_beta=settings.beta, max_iter=self.max_iter)
        if anderson is None:
            return FixedPointIterator(f, start, FixedPointSettings(settings.beta))
        return AndersonIterator(f, start, anderson)

    @property
    def safeguards(self) -> list[SafeguardAction]:
        """What the stall safeguard did so far (empty without it)."""
        return list(getattr(self.iterator, "actions", []))

    def _start(self, op: Cacti, y: torch.Tensor, gap_tv_iters: int) -> torch.Tensor:
        """``x0 = A^T(y / Phi_sum)``, or GAP-TV's estimate after ``gap_tv_iters`` iterations.

        The fixed point is the same and 20 GAP-TV iterations cost about one evaluation of the network.
        From there a given tol is reached in fewer iterations, but the iterate at tol can lie further
        from the fixed point, so DE-GAP pairs the start with a tighter tol (see DeGapSettings). DE-RNN
        starts from x0: from GAP-TV its iterate at tol lay 0.62 dB from its fixed point on drop40."""
        return gap_tv_start(op, y, gap_tv_iters, self.label)

    def step(self) -> tuple[torch.Tensor, float]:
        fx, r = self.iterator.step()
        self.residual = float(r.max())
        return fx[0], self.residual

    def converged(self) -> bool:
        return self.residual <= self.tol

    def stopped(self) -> bool:
        """The stall safeguard stopped the solve short of tol (every fallback tried, the residual stalls)."""
        flags = getattr(self.iterator, "stopped", None)
        return flags is not None and bool(flags[0])


SPEC = register_algorithm(
    AlgorithmSpec(
        name="de-gap",
        label="DE-GAP",
        settings_type=DeGapSettings,
        make_solver=DeGapSolver,
        join_solvers=join_equilibrium_solvers,
        description="Deep-equilibrium GAP: the fixed point of GAP projection + learned denoiser, "
                    "found by Anderson acceleration; stops on the fixed-point residual.",
    )
)
