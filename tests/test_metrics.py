import math

import numpy as np
import pytest

from sci_viewer.metrics import psnr, psnr_per_frame, ssim, ssim_per_frame


def test_psnr_known_value():
    truth = np.zeros((2, 8, 8), np.float32)
    est = truth.copy()
    est[0] += 0.1  # MSE 0.01 -> 20 dB
    est[1] += 0.01  # MSE 1e-4 -> 40 dB
    assert np.allclose(psnr_per_frame(est, truth), [20.0, 40.0], atol=1e-4)
    assert psnr(est, truth) == pytest.approx(30.0, abs=1e-4)  # per frame, then averaged


def test_psnr_identical_is_infinite():
    x = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    assert math.isinf(psnr(x, x))


def test_ssim_identical_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(0)
    x = rng.random((2, 32, 32)).astype(np.float32)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-9)
    assert ssim(np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1), x) < 0.9


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(2)
    truth = rng.random((3, 40, 48))
    est = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1)
    ref = [metrics.structural_similarity(e, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=1.0) for e, t in zip(est, truth)]
    assert np.allclose(ssim_per_frame(est, truth), ref, atol=1e-6)
