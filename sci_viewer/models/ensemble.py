"""Geometric self-ensemble of a denoiser: the average of ``T^-1 D(T v)`` over flips and transposes.

The denoisers are trained on flipped, rotated and transposed crops, so each transformed copy of the
network is about as good as the network itself, and their errors are partly independent: the average
is a better denoiser at the cost of one network call per transform (the "x8" test-time mode of image
restoration networks). It is itself a denoiser of the same kind: averaging maps that are each
L-Lipschitz gives an L-Lipschitz map, so a fixed-point solve keeps its footing.

The transforms act on the last two axes (height, width) only; frames, batch and channels are left
alone. :data:`SIZES` lists the ensemble sizes offered: the first ``n`` of :data:`TRANSFORMS`.
"""

from __future__ import annotations

from typing import Callable

import torch

#: (flip width, flip height, transpose), applied in that order; the first is the identity
TRANSFORMS: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False), (True, False, False), (False, True, False), (True, True, False),
    (False, False, True), (True, False, True), (False, True, True), (True, True, True))
#: the ensemble sizes offered (the first n transforms)
SIZES = (1, 2, 4, 8)


def check_size(n: int) -> int:
    """``n`` if it is an offered ensemble size, else ValueError naming the offered ones."""
    if n not in SIZES:
        raise ValueError(f"ensemble must be one of {', '.join(map(str, SIZES))}; got {n}")
    return n


def forward(t: tuple[bool, bool, bool], x: torch.Tensor) -> torch.Tensor:
    """``x`` under the transform ``t`` (last two axes)."""
    flip_w, flip_h, transpose = t
    if flip_w:
        x = x.flip(-1)
    if flip_h:
        x = x.flip(-2)
    return x.transpose(-1, -2) if transpose else x


def inverse(t: tuple[bool, bool, bool], x: torch.Tensor) -> torch.Tensor:
    """Undo :func:`forward` with the same ``t``."""
    flip_w, flip_h, transpose = t
    if transpose:
        x = x.transpose(-1, -2)
    if flip_h:
        x = x.flip(-2)
    return x.flip(-1) if flip_w else x


def self_ensemble(f: Callable[[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]], torch.Tensor],
                  v: torch.Tensor, n: int) -> torch.Tensor:
    """The mean of ``inverse(t, f(forward(t, v), T))`` over the first ``n`` transforms.

    ``f(u, T)`` is the denoiser applied to the transformed input ``u``; ``T`` transforms any other
    spatial input it needs (a mask-aware denoiser's frame weights) the same way.
    """
    if check_size(n) == 1:
        return f(v, lambda x: x)
    total: torch.Tensor | None = None
    for t in TRANSFORMS[:n]:
        out = inverse(t, f(forward(t, v).contiguous(), lambda x, t=t: forward(t, x).contiguous()))
        total = out if total is None else total + out  # out of place: ``out`` may be the caller's tensor
    assert total is not None
    return total / n
