"""Noise levels of a capture: estimated from the measurement, and carried into the frame domain.

A noise-conditioned denoiser inside DE-GAP or PnP-GAP needs the noise level of what it is given
(frames on [0, 1]). Measurement noise of standard deviation ``sigma_y`` reaches the frames through
GAP's correction ``A^T(n / Phi_sum)``: frame b at a pixel gets ``mask_b n / Phi_sum``, so its RMS
over the video is ``sigma_y * sqrt(mean(mask^2 / Phi_sum^2))`` (:func:`frame_sigma`).

:func:`estimate_measurement_sigma` estimates ``sigma_y`` from the measurement and the mask alone:
in small windows it fits ``y ~ a + sum_b c_b mask_b`` (the scene locally constant in space, each
frame its own level, so motion costs no fit error; ``a`` absorbs an offset such as a dark-level
error), and takes a low percentile of the windows' residual standard deviations, which come from
the flat parts of the scene, where the fit error is the noise.
"""

from __future__ import annotations

import numpy as np

#: smallest window side of the local fit (grown for large B), and the percentile of window residuals taken
WINDOW, PERCENTILE = 9, 3.0
#: at most about this many windows are fitted (their spacing grows on large frames)
MAX_WINDOWS = 4096
#: The measurement noise (0-255 frame scale, y's units) from which a measurement counts as noisy:
#: DE-GAP's model ``auto`` takes the noise-aware model there (:mod:`sci_viewer.models.auto`, where
#: the choice of 50 is measured) and PnP-GAP plain GAP instead of accelerated (``plain_when_noisy``).
#: Noiseless captures read 1-26 (a textured scene's structure passes for noise), strong noise 59-105.
NOISY_LEVEL = 50.0


#: The measurement noise (0-255) up to which a fixed-point solve keeps its ``tol``, and from which it
#: takes its ``noisy_tol`` (linear between): see :func:`noise_tolerance`.
TOL_RAMP = (10.0, 30.0)


def noise_tolerance(tol: float, noisy_tol: float, sigma_y: float) -> float:
    """The fixed-point tolerance for a measurement of noise ``sigma_y`` (y's units): ``tol`` up to
    10/255 (the benchmark's noiseless captures read 1-10), rising linearly to ``noisy_tol`` at 30/255
    and above. The data fix the frames only to within their noise, so on a noisy measurement the last
    iterations to a tight tol refine the estimate of the noise, not of the scene: on 12 held-out noisy
    captures (B = 12) tol 1e-4 gave DE-GAP's PSNR of tol 2e-5 within 0.03 dB on average in half the
    iterations, and every measurement reached it (see DeGapSettings). ``tol`` 0 (run to ``max_iter``)
    and ``noisy_tol`` <= ``tol`` leave ``tol`` as it is."""
    if tol <= 0 or noisy_tol <= tol:
        return tol
    lo, hi = TOL_RAMP
    t = min(max((sigma_y * 255.0 - lo) / (hi - lo), 0.0), 1.0)
    return tol + (noisy_tol - tol) * t


def is_noisy(sigma_y: float) -> bool:
    """Whether a measurement of noise ``sigma_y`` (y's units, the frame scale of [0, 1]) counts as noisy."""
    return sigma_y * 255.0 >= NOISY_LEVEL


def _windows(a: np.ndarray, win: int, step: int) -> np.ndarray:
    """The ``win`` x ``win`` windows of the last two axes of ``a`` every ``step`` pixels, flattened."""
    v = np.lib.stride_tricks.sliding_window_view(a, (win, win), axis=(-2, -1))[..., ::step, ::step, :, :]
    return v.reshape(*a.shape[:-2], -1, win * win)


def estimate_measurement_sigma(y: np.ndarray, mask: np.ndarray) -> float:
    """The noise standard deviation of one measurement ``y`` (H, W), in y's units, given ``mask`` (B, H, W).

    A noiseless capture of a textured scene gives a small positive value (the fit's own error in
    its flattest windows), not zero; a frame smaller than one window gives 0 (no estimate).
    """
    y = np.asarray(y, np.float64)
    m = np.asarray(mask, np.float64)
    b, h, w = m.shape
    win = WINDOW
    while win * win < 3 * (b + 1):  # at least twice as many pixels as fitted levels
        win += 2
    if min(h, w) < win:
        return 0.0
    step = max((win + 1) // 2, int(np.ceil(np.sqrt(h * w / MAX_WINDOWS))))
    ys, ms = _windows(y, win, step), _windows(m, win, step)
    res = np.concatenate([_fit_residuals(ys[s : s + 1024], ms[:, s : s + 1024]) for s in range(0, len(ys), 1024)])
    return float(np.sqrt(np.percentile(res, PERCENTILE)))


def _fit_residuals(ys: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Residual variance of the least-squares fit ``y ~ a + sum_b c_b m_b`` in each window: ``ys`` (K, n),
    ``ms`` (B, K, n). Solved through the eigenvectors of X^T X: a rank-deficient window (a frame whose
    mask is constant there) fits fewer levels and keeps more degrees of freedom."""
    x = np.concatenate([np.ones((1, *ys.shape)), ms], 0).transpose(1, 2, 0)  # (K, n, B+1)
    lam, vec = np.linalg.eigh(np.einsum("kni,knj->kij", x, x))
    keep = lam > lam[:, -1:] * 1e-9
    proj = np.einsum("kij,ki->kj", vec, np.einsum("kni,kn->ki", x, ys))
    fit = np.where(keep, proj * proj / np.where(keep, lam, 1.0), 0.0).sum(1)
    return np.clip((ys * ys).sum(1) - fit, 0.0, None) / np.maximum(ys.shape[1] - keep.sum(1), 1)


def frame_sigma(sigma_y: float, mask: np.ndarray, rho: float = 0.0) -> float:
    """The RMS noise (y's units per frame) that GAP's correction carries from measurement noise
    ``sigma_y`` into the frames, for ``mask`` (B, H, W); with the relaxed step of ``rho``
    (:func:`relaxation`) the correction is ``A^T(n / (Phi_sum + rho))``."""
    mask = np.asarray(mask, np.float64)
    phi = (mask * mask).sum(0)
    phi = np.where(phi > 0, phi, 1.0) + rho
    return float(sigma_y * np.sqrt(np.mean(mask * mask / (phi * phi)[None])))


def relaxation(sigma_y: float, estimate_error: float) -> float:
    """``rho = (sigma_y / estimate_error)^2``, the weight that relaxes GAP's data step for measurement
    noise ``sigma_y`` (y's units) against an estimate of RMS error ``estimate_error`` (frame units):
    :meth:`sci_viewer.physics.Cacti.project` then solves ``min ||y - A x||^2 / sigma_y^2 +
    ||x - v||^2 / estimate_error^2`` instead of ``A x = y`` exactly. 0 when either is 0 (exact GAP)."""
    if estimate_error <= 0 or sigma_y <= 0:
        return 0.0
    return float((sigma_y / estimate_error) ** 2)
