"""Denoisers: one registry shared by the algorithms, the GUI, the trainer and plugins.

Call convention of every denoiser: ``net(x, sigma=None)`` with ``x`` a (N, B, H, W) video on
[0, 1] returns the denoised video (N, B, H, W) -- the estimate itself, not the noise (an attribute
``residual = True`` says the network computes it as the input plus a learned correction). Any B
and any H, W work. ``sigma`` (float or (N,) tensor, 0..1 scale) is used by noise-conditioned
networks and ignored by the others.
A mask-aware denoiser (attribute ``uses_mask = True``) also takes ``weights=``, the operator's
:meth:`~sci_viewer.physics.Cacti.frame_weights`; :func:`denoise` passes them to those that want them.

A model with ``kind = "recurrent"`` (DE-RNN, :mod:`.rnn`) is not a denoiser but a whole iteration
``net.iterate(x, op, y)``; :func:`equilibrium_map` gives the fixed-point map of either kind.

Trained weights live in ``resources/models/NAME.pt`` as ``{"arch", "kwargs", "state_dict",
"meta"}`` (:mod:`.files`) with a model card ``NAME.md`` beside them; the user's model folders add
to them (:mod:`.catalog`, :mod:`sci_viewer.locations`). A plugin adds an architecture with
``register_denoiser("my-net", MyNet)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from sci_viewer.errors import JobError
from sci_viewer.locations import resources_dir
from sci_viewer.models.catalog import ModelInfo, file_sha256, find_model, list_models, model_record
from sci_viewer.models.ensemble import self_ensemble
from sci_viewer.models.files import read_model_file, save_model

DEFAULT_MODEL = "degap-default"
DEFAULT_RNN_MODEL = "dernn-default"
DENOISER, RECURRENT = "denoiser", "recurrent"
MODELS_DIR = resources_dir() / "models"  # the bundled models; more folders: sci_viewer.locations

_DENOISERS: dict[str, Callable[..., nn.Module]] = {}


def register_denoiser(name: str, cls: Callable[..., nn.Module]) -> None:
    """Add (or replace) a denoiser architecture under ``name``."""
    _DENOISERS[name] = cls


def denoiser_names() -> list[str]:
    """Registered architecture names, sorted."""
    _load_builtin()
    return sorted(_DENOISERS)


def build_denoiser(arch: str, **kwargs: Any) -> nn.Module:
    """A fresh (untrained) denoiser of architecture ``arch``."""
    _load_builtin()
    if arch not in _DENOISERS:
        raise JobError(f"Unknown denoiser '{arch}'; known: {', '.join(sorted(_DENOISERS))}.")
    return _DENOISERS[arch](**kwargs)


def model_kind(net_or_arch: nn.Module | str) -> str:
    """``"denoiser"`` (used inside DE-GAP / PnP-GAP) or ``"recurrent"`` (a DE-RNN iteration)."""
    if isinstance(net_or_arch, str):
        _load_builtin()
        net_or_arch = _DENOISERS.get(net_or_arch)  # type: ignore[assignment]
    return getattr(net_or_arch, "kind", DENOISER)


def denoise(net: nn.Module, v: torch.Tensor, sigma: float | torch.Tensor | None, op: Any,
            ensemble: int = 1) -> torch.Tensor:
    """``net(v, sigma)``, with the mask's frame weights for a mask-aware denoiser (``op``: the operator
    of the measurement ``v`` was projected for, a :class:`sci_viewer.physics.Cacti` or a training batch's).
    ``ensemble`` > 1 averages the net over that many flips and transposes (:mod:`sci_viewer.models.ensemble`)."""
    if getattr(net, "uses_mask", False):
        weights = op.frame_weights()
        return self_ensemble(lambda u, t: net(u, sigma, weights=t(weights)), v, ensemble)
    return self_ensemble(lambda u, t: net(u, sigma), v, ensemble)


def takes_relaxed_step(net: nn.Module) -> bool:
    """Whether the model's fixed-point map can take the relaxed data step: every denoiser (the map
    projects), a recurrent model whose ``iterate`` takes ``rho`` (a plugin's older one may not)."""
    if model_kind(net) != RECURRENT:
        return True
    import inspect

    try:
        return "rho" in inspect.signature(net.iterate).parameters  # type: ignore[operator]
    except (TypeError, ValueError):
        return False


def equilibrium_map(net: nn.Module, op: Any, y: torch.Tensor, sigma: float | torch.Tensor | None = None,
                    clip: bool = False, rho: float | torch.Tensor = 0.0,
                    ensemble: int = 1) -> Callable[[torch.Tensor], torch.Tensor]:
    """The fixed-point map ``f`` of a trained model for the measurement ``y`` and operator ``op``.

    A denoiser ``D`` gives DE-GAP's ``f(x) = D(x + A^T((y - A x) / Phi_sum))``; a recurrent model
    gives DE-RNN's ``f(x) = RNN(x, y, Phi)``. ``op`` is a :class:`sci_viewer.physics.Cacti` or a
    training batch operator. ``clip`` keeps every output in [0, 1], the frames' range: the box is
    convex, so clipping is a projection and cannot make the map expand. ``rho`` relaxes DE-GAP's data
    step for a noisy measurement (:meth:`sci_viewer.physics.Cacti.project`; a recurrent model's ``iterate``
    is given it as ``rho`` when it is not 0). ``ensemble``: DE-GAP's denoiser self-ensembled (see
    :func:`denoise`); a recurrent model takes 1 only.
    """
    if model_kind(net) == RECURRENT:
        if ensemble != 1:
            raise ValueError("a recurrent model (DE-RNN) has no self-ensemble: ensemble must be 1")
        relaxed = {} if isinstance(rho, float) and rho == 0.0 else {"rho": rho}  # see takes_relaxed_step
        f = lambda x: net.iterate(x, op, y, **relaxed)  # type: ignore[operator]  # noqa: E731
    else:
        f = lambda x: denoise(net, op.project(x, y, rho), sigma, op, ensemble)  # noqa: E731
    return (lambda x: f(x).clamp(0.0, 1.0)) if clip else f


def model_from_file_contents(blob: dict[str, Any], path: Path) -> nn.Module:
    """The network that :func:`read_model_file`'s ``blob`` (read from ``path``) describes, weights loaded."""
    try:
        net = build_denoiser(blob["arch"], **blob.get("kwargs", {}))
    except TypeError as exc:
        raise JobError(f"Model file {path}: a {blob['arch']} does not take {blob.get('kwargs', {})} ({exc}).") from None
    try:
        net.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise JobError(f"Model file {path}: its weights do not fit a {blob['arch']} "
                       f"{blob.get('kwargs', {})} ({exc}).") from None
    return net


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str | torch.device = "cpu") -> nn.Module:
    """Load a trained denoiser by name (``NAME.pt`` in a model folder) or path, in eval mode.

    The returned module carries ``model_meta`` (the file's ``meta`` dict) and ``model_arch``.
    """
    path, _ = find_model(name_or_path)
    blob = read_model_file(path)
    net = model_from_file_contents(blob, path)
    net.model_meta = blob.get("meta", {})  # type: ignore[attr-defined]
    net.model_arch = blob["arch"]  # type: ignore[attr-defined]
    return net.to(device).eval()


def model_names(kind: str | None = None) -> list[str]:
    """Names of the known models, all or of one ``kind`` (suggestions for a ``model`` setting)."""
    return [m.name for m in list_models() if kind is None or m.kind == kind]


def denoiser_model_names() -> list[str]:
    return model_names(DENOISER)


def recurrent_model_names() -> list[str]:
    return model_names(RECURRENT)


_builtin_loaded = False


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    _builtin_loaded = True
    from sci_viewer.models.cnn import RSNCNN, SimpleCNN
    from sci_viewer.models.ffdnet import FFDNet
    from sci_viewer.models.rnn import DERNN
    from sci_viewer.models.unet import UNet

    for name, cls in (("cnn", SimpleCNN), ("rsn-cnn", RSNCNN), ("unet", UNet), ("ffdnet", FFDNet), ("dernn", DERNN)):
        _DENOISERS.setdefault(name, cls)


__all__ = [
    "DEFAULT_MODEL", "DEFAULT_RNN_MODEL", "DENOISER", "MODELS_DIR", "RECURRENT", "ModelInfo", "build_denoiser",
    "denoise", "denoiser_model_names", "denoiser_names", "equilibrium_map", "file_sha256", "find_model",
    "list_models", "load_model", "model_kind", "model_names", "model_record", "read_model_file",
    "recurrent_model_names", "register_denoiser", "save_model",
    "takes_relaxed_step",
]
