"""Denoiser self-ensemble: the transforms, the average, and its use by PnP-GAP and DE-GAP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sci_viewer.algorithms import get_algorithm
from sci_viewer.engine import Job, execute
from sci_viewer.errors import JobError
from sci_viewer.metrics import psnr
from sci_viewer.models import denoise, equilibrium_map, load_model
from sci_viewer.models.ensemble import SIZES, TRANSFORMS, forward, inverse, self_ensemble
from sci_viewer.physics import Cacti


def test_every_transform_is_undone_by_its_inverse_on_a_non_square_video():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    seen = set()
    for t in TRANSFORMS:
        y = forward(t, x)
        assert torch.equal(inverse(t, y), x)
        seen.add(tuple(y.flatten().tolist()[:7]) + tuple(y.shape))
    assert len(seen) == len(TRANSFORMS) == 8  # eight different transforms, the identity first
    assert TRANSFORMS[0] == (False, False, False)


def test_the_ensemble_of_an_equivariant_map_is_the_map_and_of_others_the_average():
    v = torch.rand(1, 3, 6, 8, generator=torch.Generator().manual_seed(0))
    square = lambda u, t: u * u  # noqa: E731  (pointwise: commutes with every transform)
    for n in SIZES:
        torch.testing.assert_close(self_ensemble(square, v, n), v * v)
    # a map tied to the image grid (adds a ramp along the width): the ensemble averages its copies
    ramp = torch.arange(8, dtype=torch.float32)
    along_last = lambda u, t: u + torch.arange(u.shape[-1], dtype=u.dtype)  # noqa: E731
    torch.testing.assert_close(self_ensemble(along_last, v, 1), v + ramp)
    torch.testing.assert_close(self_ensemble(along_last, v, 2), v + 3.5)  # the ramp and its mirror image
    with pytest.raises(ValueError, match="1, 2, 4, 8"):
        self_ensemble(square, v, 3)


class _MaskAware(torch.nn.Module):
    """Records the frame weights it is given next to its input; returns the input."""

    uses_mask = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x, sigma=None, weights=None):
        self.calls.append((x.clone(), weights.clone()))
        return x


def test_a_mask_aware_denoiser_gets_its_weights_transformed_with_its_input(small_demo):
    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    v = torch.rand(1, *op.mask.shape, generator=torch.Generator().manual_seed(1))
    net = _MaskAware()
    out = denoise(net, v, None, op, ensemble=8)
    torch.testing.assert_close(out, v)
    assert len(net.calls) == 8
    weights = op.frame_weights()
    for t, (x, w) in zip(TRANSFORMS, net.calls):
        assert torch.equal(x, forward(t, v)) and torch.equal(w, forward(t, weights))


def test_ensemble_one_is_the_network_alone_and_eight_denoises_better(small_demo):
    """On a noisy video the eight-fold average of the shipped denoiser beats the network alone."""
    net = load_model("unet-sigma-b3-long")
    truth = torch.from_numpy(small_demo.ground_truth([0]))
    noisy = truth + (25 / 255) * torch.randn(truth.shape, generator=torch.Generator().manual_seed(2))
    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    with torch.inference_mode():
        alone, one, eight = net(noisy, 25 / 255), denoise(net, noisy, 25 / 255, op), \
            denoise(net, noisy, 25 / 255, op, ensemble=8)
    assert torch.equal(alone, one)
    gain = psnr(eight.numpy(), truth.numpy()) - psnr(one.numpy(), truth.numpy())
    assert gain > 0.05, f"self-ensemble gained {gain:.3f} dB"


@pytest.mark.parametrize("algo", ["pnp-gap", "de-gap"])
def test_the_setting_is_offered_checked_and_used(small_demo, algo):
    spec = get_algorithm(algo)
    assert spec.settings().ensemble == 1 or algo == "pnp-gap"
    for bad in (3, 0, True, "8"):
        with pytest.raises(JobError, match="ensemble must be one of 1, 2, 4, 8"):
            spec.settings(ensemble=bad)
    short = {"iterations": 4} if algo == "pnp-gap" else {"max_iter": 4, "tol": 0.0}
    runs = {n: execute(Job(small_demo, algo, {**short, "ensemble": n}, device="cpu", measurements=[0]))
            for n in (1, 2)}
    assert all(np.isfinite(r.reconstruction).all() for r in runs.values())
    assert not np.array_equal(runs[1].reconstruction, runs[2].reconstruction)
    assert runs[2].results[0].iterations == 4


def test_de_gap_batched_and_single_solves_agree_with_an_ensemble(small_demo):
    """The batched DE-GAP solve passes the ensemble on: its result is the one-at-a-time one."""
    settings = {"model": "degap-default", "max_iter": 5, "tol": 0.0, "ensemble": 2}
    one = execute(Job(small_demo, "de-gap", settings, device="cpu", measurements=[0, 1], batch=1))
    two = execute(Job(small_demo, "de-gap", settings, device="cpu", measurements=[0, 1], batch=2))
    np.testing.assert_allclose(one.reconstruction, two.reconstruction, atol=2e-5)


def test_a_recurrent_model_refuses_an_ensemble(small_demo):
    net = load_model("dernn-default")
    op = Cacti(torch.from_numpy(small_demo.mask_float()))
    with pytest.raises(ValueError, match="recurrent"):
        equilibrium_map(net, op, torch.from_numpy(small_demo.measurements([0])[0]), ensemble=2)
