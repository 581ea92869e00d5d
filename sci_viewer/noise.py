"""Noise levels of a capture: estimated from the measurement, and carried into the frame domain.

A noise-conditioned denoiser inside DE-GAP or PnP-GAP needs the noise level of what it is given
(frames on [0, 1]). Measurement noise of standard deviation ``sigma_y`` reaches the frames through
GAP's correction ``A^T(n / Phi_sum)``: frame b at a pixel gets ``mask_b n / Phi_sum``, so its RMS
over the video is ``sigma_y * sqrt(mean(mask^2 / Phi_sum^2))`` (:func:`frame_sigma`).

:func:`estimate_measurement_sigma` estimates ``sigma_y`` from the measurement and the mask alone:
in each small window it fits ``y ~ c * M`` with ``M = sum_b mask_b`` (a scene locally constant in
space and time), and takes a low percentile of the windows' residual standard deviations, which
come from the flat, still parts of the scene, where the fit error is the noise.
"""

from __future__ import annotations

import cv2
import numpy as np

#: window side of the local fit, and the percentile of window residuals taken as the noise
WINDOW, PERCENTILE = 7, 3.0


def _box(a: np.ndarray) -> np.ndarray:
    return cv2.boxFilter(a, ddepth=-1, ksize=(WINDOW, WINDOW), normalize=False, borderType=cv2.BORDER_REFLECT)


def estimate_measurement_sigma(y: np.ndarray, mask: np.ndarray) -> float:
    """The noise standard deviation of one measurement ``y`` (H, W), in y's units, given ``mask`` (B, H, W).

    A noiseless capture of a textured scene gives a small positive value (the fit's own error in
    its flattest windows), not zero.
    """
    y = np.asarray(y, np.float64)
    m = np.asarray(mask, np.float64).sum(0)
    n = WINDOW * WINDOW
    sy, sm = _box(y), _box(m)
    syy, smm, sym = _box(y * y), _box(m * m), _box(y * m)
    # least squares y = a + c*M in each window (a absorbs an offset such as a dark-level error)
    var_m = smm - sm * sm / n
    cov = sym - sy * sm / n
    var_y = syy - sy * sy / n
    c = np.where(var_m > 1e-12, cov / np.maximum(var_m, 1e-12), 0.0)
    res = np.clip(var_y - c * cov, 0.0, None) / (n - 2)
    r = WINDOW // 2
    inner = res[r:-r, r:-r] if min(res.shape) > 2 * WINDOW else res
    return float(np.sqrt(np.percentile(inner, PERCENTILE)))


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
