import numpy as np
import torch

from sci_viewer.physics import Cacti
from sci_viewer.tv import tv_denoise


def _op(b=8, h=32, w=40, seed=0, binary=True):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(b, h, w, generator=g, dtype=torch.float64)
    if binary:
        mask = (mask < 0.5).double()
    return Cacti(mask), g


def test_adjoint_identity():
    op, g = _op(binary=False)
    x = torch.randn(8, 32, 40, generator=g, dtype=torch.float64)
    r = torch.randn(32, 40, generator=g, dtype=torch.float64)
    lhs = (op.A(x) * r).sum()
    rhs = (x * op.At(r)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-12)


def test_projection_satisfies_measurement_where_exposed():
    op, g = _op()
    truth = torch.rand(8, 32, 40, generator=g, dtype=torch.float64)
    y = op.A(truth)
    v = torch.rand(8, 32, 40, generator=g, dtype=torch.float64)
    x = op.project(v, y)
    assert torch.allclose(op.A(x), y, atol=1e-10)
    # Projecting twice changes nothing (it is a projection).
    assert torch.allclose(op.project(x, y), x, atol=1e-10)


def test_zero_exposure_pixels_are_guarded():
    mask = torch.zeros(4, 8, 8, dtype=torch.float64)
    mask[:, :4] = 1.0  # bottom half never exposed
    op = Cacti(mask)
    assert op.zero_exposure == 32
    y = torch.ones(8, 8, dtype=torch.float64)
    x0 = op.initial(y)
    assert torch.isfinite(x0).all()
    assert torch.all(x0[:, 4:] == 0)
    assert torch.allclose(x0[:, :4], torch.full((4, 4, 8), 0.25, dtype=torch.float64))


def test_batched_measurements():
    op, g = _op()
    x = torch.rand(3, 8, 32, 40, generator=g, dtype=torch.float64)
    y = op.A(x)
    assert y.shape == (3, 32, 40)
    assert torch.allclose(y[1], op.A(x[1]))


def test_tv_matches_scikit_image_chambolle():
    skimage = __import__("pytest").importorskip("skimage.restoration")
    rng = np.random.default_rng(1)
    img = np.clip(np.linspace(0, 1, 48)[None, :] + rng.normal(0, 0.1, (40, 48)), 0, 1)
    ours = tv_denoise(torch.from_numpy(img)[None], 0.3, 5)[0].numpy()
    ref = skimage.denoise_tv_chambolle(img, weight=0.3, max_num_iter=5, eps=0)
    assert np.abs(ours - ref).max() < 1e-6


def test_tv_reduces_total_variation():
    g = torch.Generator().manual_seed(3)
    img = torch.rand(2, 32, 32, generator=g)
    out = tv_denoise(img, 0.2, 20)

    def tv(z):
        return (z[..., 1:, :] - z[..., :-1, :]).abs().sum() + (z[..., :, 1:] - z[..., :, :-1]).abs().sum()

    assert tv(out) < 0.5 * tv(img)


def test_frame_weights_are_each_frames_share_of_the_correction():
    from sci_viewer.training.sim import BatchCacti

    torch.manual_seed(0)
    mask = (torch.rand(8, 16, 16) > 0.5).float()
    mask[:, 0, 0] = 0   # a pixel no frame exposed
    w = Cacti(mask).frame_weights()
    assert w.shape == mask.shape and torch.isfinite(w).all()
    assert torch.equal(w[:, 0, 0], torch.zeros(8))
    exposed = mask.sum(0) > 0
    assert torch.allclose(w.sum(0)[exposed], torch.full((int(exposed.sum()),), 8.0))
    assert torch.equal(w == 0, mask == 0)
    grey = mask * torch.rand(8, 16, 16)
    assert torch.allclose(Cacti(3.5 * grey).frame_weights(), Cacti(grey).frame_weights(), atol=1e-5)
    batch = BatchCacti(torch.stack([mask, grey]))
    assert torch.allclose(batch.frame_weights()[0], w) and torch.allclose(batch.frame_weights()[1], Cacti(grey).frame_weights())
