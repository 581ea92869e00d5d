"""Batched CACTI simulation for training: random binary masks, measurements, GAP projection.

Shapes: videos and masks (N, B, H, W), measurements (N, H, W); one mask per sample.
"""

from __future__ import annotations

import numpy as np
import torch

from sci_viewer.noise import estimate_measurement_sigma, frame_sigma, relaxation
from sci_viewer.physics import frame_weights
from sci_viewer.simulation import NoiseModel, make_mask


def random_masks(rng: np.random.Generator, n: int, b: int, h: int, w: int, density: tuple[float, float],
                 translating: float = 0.0) -> torch.Tensor:
    """Binary masks (N, B, H, W), each sample with its own density drawn from ``density`` (low, high).

    A share ``translating`` of the samples get a :func:`translating_mask`; the others an independent
    mask per frame (with ``translating=0`` the draws are those of earlier releases, seed for seed).
    """
    if translating <= 0:
        p = rng.uniform(density[0], density[1], size=(n, 1, 1, 1))
        return torch.from_numpy((rng.random((n, b, h, w)) < p).astype(np.float32))
    masks = []
    for _ in range(n):
        p = rng.uniform(density[0], density[1])
        moving = rng.random() < translating
        masks.append(translating_mask(rng, b, h, w, p) if moving else rng.random((b, h, w)) < p)
    return torch.from_numpy(np.stack(masks).astype(np.float32))


def translating_mask(rng: np.random.Generator, b: int, h: int, w: int, p: float) -> np.ndarray:
    """One random binary mask moved by one pixel per frame, in one of the four directions (B, H, W).

    This is how a CACTI camera codes its frames: a single lithographic mask on a piezo stage
    translates during the exposure, so frame k sees the mask shifted by k pixels (the benchmark
    captures' masks have this form, and a calibrated real mask is close to it)."""
    along_w = bool(rng.integers(2))
    base = rng.random((h, w + b - 1) if along_w else (h + b - 1, w)) < p
    offsets = range(b) if rng.integers(2) else range(b - 1, -1, -1)
    return np.stack([base[:, o : o + w] if along_w else base[o : o + h] for o in offsets])


def kind_masks(rng: np.random.Generator, n: int, b: int, h: int, w: int, density: tuple[float, float],
               kinds: list[str]) -> torch.Tensor:
    """Masks (N, B, H, W), each sample of a kind drawn from ``kinds`` (:data:`sci_viewer.simulation.MASK_KINDS`)
    at a density drawn from ``density`` (``sparse`` draws its own, lower one)."""
    masks = []
    for _ in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        p = None if kind == "sparse" else float(rng.uniform(density[0], density[1]))
        masks.append(make_mask(rng, kind, b, h, w, p))
    return torch.from_numpy(np.stack(masks))


def noisy_measurements(rng: np.random.Generator, y: torch.Tensor, p_noisy: float, photons: tuple[float, float],
                       read: tuple[float, float]) -> torch.Tensor:
    """``y`` (N, H, W) with, for a share ``p_noisy`` of the samples, shot noise at a photon count drawn
    log-uniformly from ``photons`` and read noise drawn uniformly from ``read`` (fractions of the
    sample's brightest value), dark-subtracted (zero-mean: pixels can go negative)."""
    if p_noisy <= 0:
        return y
    out = y.detach().cpu().numpy().copy()
    for i in range(out.shape[0]):
        if rng.random() >= p_noisy:
            continue
        model = NoiseModel(photons=float(np.exp(rng.uniform(np.log(photons[0]), np.log(photons[1])))),
                           read=float(rng.uniform(read[0], read[1])))
        out[i] = model.apply(rng, out[i])
    return torch.from_numpy(out).to(y.device)


def map_noise(y: torch.Tensor, mask: torch.Tensor, offset: float | None, estimate_error: float
              ) -> tuple[torch.Tensor | None, float | torch.Tensor]:
    """Per sample, what DE-GAP's map takes from the measurement noise estimated from ``y`` alone
    (:func:`sci_viewer.noise.estimate_measurement_sigma`), as at inference: the relaxed data step's
    weight (:func:`sci_viewer.noise.relaxation` for ``estimate_error`` > 0, (N, 1, 1); else 0.0) and,
    for a noise-conditioned net (``offset`` not None), its noise level: ``offset`` plus the frame noise
    after that step (:func:`sci_viewer.noise.frame_sigma`), (N,). All on the [0, 1] scale."""
    if offset is None and estimate_error <= 0:
        return None, 0.0
    ys, ms = y.detach().cpu().numpy(), mask.detach().cpu().numpy()
    noise = [estimate_measurement_sigma(ys[i], ms[i]) for i in range(ys.shape[0])]
    rhos = [relaxation(s, estimate_error) for s in noise]
    sigma = None if offset is None else torch.tensor(
        [offset + frame_sigma(s, m, r) for s, m, r in zip(noise, ms, rhos)], dtype=y.dtype, device=y.device)
    rho = torch.tensor(rhos, dtype=y.dtype, device=y.device).view(-1, 1, 1) if estimate_error > 0 else 0.0
    return sigma, rho


class BatchCacti:
    """``A``, ``At``, GAP projection for a batch of masks (N, B, H, W)."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask
        s = (mask * mask).sum(1)
        self.phi_sum = torch.where(s > 0, s, torch.ones_like(s))
        self._weights: torch.Tensor | None = None

    def frame_weights(self) -> torch.Tensor:
        """:func:`sci_viewer.physics.frame_weights` of each sample's mask (N, B, H, W), computed once."""
        if self._weights is None:
            self._weights = frame_weights(self.mask, self.phi_sum)
        return self._weights

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return (self.mask * x).sum(1)

    def At(self, r: torch.Tensor) -> torch.Tensor:
        return self.mask * r.unsqueeze(1)

    def initial(self, y: torch.Tensor) -> torch.Tensor:
        return self.At(y / self.phi_sum)

    def scaled_residual(self, r: torch.Tensor, rho: float | torch.Tensor = 0.0) -> torch.Tensor:
        """``r / (Phi_sum + rho)`` (no saturated pixels in training), so that GAP-TV runs on a batch as on
        one capture; ``rho``: 0, or per sample (N, 1, 1) (see :meth:`sci_viewer.physics.Cacti.project`)."""
        return r / (self.phi_sum + rho)

    def project(self, v: torch.Tensor, y: torch.Tensor, rho: float | torch.Tensor = 0.0) -> torch.Tensor:
        """GAP projection, relaxed by ``rho`` as :meth:`sci_viewer.physics.Cacti.project`."""
        return v + self.At(self.scaled_residual(y - self.A(v), rho))

    def project_error(self, e: torch.Tensor) -> torch.Tensor:
        """The part of an error ``e`` that GAP projection cannot see: ``e - A^T(A e / Phi_sum)``."""
        return e - self.At(self.A(e) / self.phi_sum)


#: the fixed sensor noise of the ``noisy`` validation kind (photons at the brightest value, read noise)
VAL_NOISE = NoiseModel(photons=1000.0, read=0.01)


def validation_capture(kind: str, gt: torch.Tensor) -> tuple[BatchCacti, torch.Tensor]:
    """The fixed masks and measurements of one validation kind for the crops ``gt`` (N, B, H, W):
    ``iid`` and ``translating`` binary masks at density 0.5 (those of earlier releases, so their
    figures stay comparable), ``grey`` calibrated grey-level masks, ``noisy``: iid masks with
    :data:`VAL_NOISE` on the measurements. The same for every call."""
    n, b, h, w = gt.shape
    gen = np.random.default_rng({"iid": 4321, "translating": 4322, "grey": 4324, "noisy": 4325}[kind])
    if kind == "grey":
        mask = torch.from_numpy(np.stack([make_mask(gen, "grey", b, h, w, 0.5) for _ in range(n)]))
    else:
        mask = random_masks(gen, n, b, h, w, (0.5, 0.5), 1.0 if kind == "translating" else 0.0)
    op = BatchCacti(mask.to(gt.device))
    y = op.A(gt)
    if kind == "noisy":
        ys = y.cpu().numpy()
        y = torch.from_numpy(np.stack([VAL_NOISE.apply(gen, ys[i]) for i in range(n)])).to(gt.device)
    return op, y
