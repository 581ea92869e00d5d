"""DE-RNN: the recurrent model, its iteration, the algorithm through the engine, training, the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sci_viewer.algorithms import get_algorithm
from sci_viewer.capture import Capture
from sci_viewer.engine import Job, execute
from sci_viewer.errors import JobError
from sci_viewer.models import (
    RECURRENT, build_denoiser, equilibrium_map, load_model, model_kind, recurrent_model_names, save_model,
)
from sci_viewer.models.rnn import DERNN
from sci_viewer.physics import Cacti


def _random_net(ch: int = 8, seed: int = 0, scale: float = 0.3) -> DERNN:
    """An untrained DE-RNN whose head is not zero, so the correction is not trivially 0."""
    torch.manual_seed(seed)
    net = DERNN(ch=ch)
    torch.nn.init.normal_(net.head.weight, std=scale / ch)
    return net.eval()


def _op(b: int, h: int, w: int, seed: int = 0) -> Cacti:
    g = torch.Generator().manual_seed(seed)
    return Cacti((torch.rand(b, h, w, generator=g) < 0.5).float())


@pytest.mark.parametrize("b,h,w", [(8, 32, 32), (10, 37, 50), (14, 16, 24)])
def test_any_b_and_frame_size(b, h, w):
    net, op = _random_net(), _op(b, h, w)
    y = op.A(torch.rand(b, h, w))
    with torch.no_grad():
        out = equilibrium_map(net, op, y)(op.initial(y)[None])
    assert out.shape == (1, b, h, w) and torch.isfinite(out).all()


def test_untrained_model_is_the_gap_projection():
    """The head starts at zero: a fresh DE-RNN iteration is exactly the GAP projection."""
    net, op = DERNN(ch=8).eval(), _op(8, 24, 24)
    y = op.A(torch.rand(8, 24, 24))
    x = torch.rand(1, 8, 24, 24)
    with torch.no_grad():
        assert torch.allclose(net.iterate(x, op, y), op.project(x, y))


def test_recurrence_runs_forward_and_backward_over_the_frames():
    """Changing the first frame reaches the last (forward pass) and the last reaches the first (backward)."""
    net, op = _random_net(), _op(8, 16, 16)
    y = op.A(torch.rand(8, 16, 16))
    x = torch.rand(1, 8, 16, 16)
    with torch.no_grad():
        base = net(x, op.project(x, y), op.mask.expand_as(x))
        for changed, watched in ((0, 7), (7, 0)):
            x2 = x.clone()
            x2[0, changed] += 0.5
            out = net(x2, op.project(x2, y), op.mask.expand_as(x2))
            assert not torch.allclose(out[0, watched], base[0, watched]), (changed, watched)


def test_every_convolution_is_spectrally_normalised():
    net = DERNN(ch=8, spectral=True)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    normalised = [m for m in convs if hasattr(m, "parametrizations")]
    assert len(normalised) == len(convs) - 1  # all but the output head
    net.train()
    for _ in range(30):  # power iterations converge to the top singular value
        net(torch.rand(1, 8, 8, 8), torch.rand(1, 8, 8, 8), torch.ones(1, 8, 8, 8))
    for m in normalised:
        assert torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2) == pytest.approx(1.0, abs=0.02)
    assert not any(hasattr(m, "parametrizations") for m in DERNN(ch=8, spectral=False).modules())


def test_kind_and_registry():
    assert model_kind("dernn") == RECURRENT and model_kind("unet") == "denoiser"
    assert model_kind(build_denoiser("dernn", ch=4)) == RECURRENT


class ContractiveRecurrent(torch.nn.Module):
    """A recurrent-kind stand-in whose iteration ``s * box3(P(x)) + (1 - s) / 2`` is a contraction."""

    kind = RECURRENT

    def __init__(self, strength: float = 0.9) -> None:
        super().__init__()
        self.strength = torch.nn.Parameter(torch.tensor(float(strength)))

    def iterate(self, x, op, y):
        p = op.project(x, y)
        return self.strength * torch.nn.functional.avg_pool2d(p, 3, stride=1, padding=1) + (1 - self.strength) / 2


@pytest.fixture()
def rnn_file(tmp_path, monkeypatch):
    import sci_viewer.models as models

    monkeypatch.setitem(models._DENOISERS, "test-recurrent", ContractiveRecurrent)
    models.denoiser_names()
    return str(save_model(ContractiveRecurrent(), tmp_path / "rnn.pt", "test-recurrent", {"strength": 0.9}))


@pytest.fixture()
def random_rnn_file(tmp_path):
    return str(save_model(_random_net(ch=8), tmp_path / "random-rnn.pt", "dernn", {"ch": 8}))


def _capture(size: int = 40, b: int = 8, seed: int = 0) -> Capture:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (1, b, size, size)).astype(np.uint8)
    mask = (rng.random((b, size, size)) < 0.5).astype(np.uint8)
    meas = np.einsum("bhw,nbhw->nhw", mask.astype(np.float64), truth.astype(np.float64))
    return Capture(meas, mask, truth, name=f"random {b}x{size}")


def test_algorithm_runs_through_the_engine_to_its_tolerance(rnn_file):
    spec = get_algorithm("de-rnn")
    assert spec.settings().model == "dernn-default"
    fin = execute(Job(_capture(), "de-rnn", {"model": rnn_file, "tol": 1e-4, "max_iter": 80}))
    (res,) = fin.results
    assert res.converged and res.final_residual <= 1e-4 and res.iterations < 80
    assert len(fin.trace) == res.iterations and all(e.psnr is not None for e in fin.trace)
    assert fin.trace[0].residual > fin.trace[-1].residual


def test_wrong_kind_of_model_is_refused_with_the_right_algorithm(rnn_file):
    with pytest.raises(JobError, match="DE-RNN"):
        execute(Job(_capture(), "de-gap", {"model": rnn_file, "max_iter": 2}))
    with pytest.raises(JobError, match="de-gap"):
        execute(Job(_capture(), "de-rnn", {"model": "degap-default", "max_iter": 2}))
    with pytest.raises(JobError, match="PnP-GAP cannot use"):
        execute(Job(_capture(), "pnp-gap", {"model": rnn_file, "iterations": 2}))


def test_training_command_trains_a_dernn(tmp_path, shared_data):
    """Both stages run on DAVIS for the recurrent kind, move the weights, and export a loadable model."""
    import yaml

    from sci_viewer.cli import main
    from sci_viewer.training.data import default_root

    if not default_root().is_dir():
        pytest.skip("DAVIS training frames not present")
    cfg = {
        "name": "tiny-rnn", "seed": 3, "device": "cpu",
        "model": {"arch": "dernn", "kwargs": {"ch": 4}},
        "data": {"train_scenes": ["libby", "dog"], "val_scenes": ["car-shadow"], "frames": [8], "scales": [1]},
        "pretrain": {"steps": 2, "batch": 1, "crop": 32, "lr": 1e-2},
        "deq": {"steps": 2, "batch": 1, "crop": 32, "max_iter": 4},
        "val": {"every_steps": 0, "deq_every_steps": 0, "size": 32, "max_iter": 3},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), "--out", str(out), "--quiet"]) == 0
    pre, final = load_model(str(out / "pretrain_final.pt")), load_model(str(out / "deq_final.pt"))
    assert model_kind(final) == RECURRENT
    changed = [not torch.equal(a, b) for a, b in zip(pre.state_dict().values(), final.state_dict().values())]
    assert any(changed)
    assert any(float(p.detach().abs().sum()) > 0 for p in pre.head.parameters())  # pretraining moved the zero head


def test_shipped_model_beats_the_paper_on_runner(shared_data):
    """The shipped DE-RNN on runner40 measurement 0 (the benchmark's row): above the paper's 27.85 dB, converged."""
    from sci_viewer.benchmarks._scenes import load_scene

    assert "dernn-default" in recurrent_model_names()
    fin = execute(Job(load_scene("runner40"), "de-rnn", {}, measurements=[0], ssim_every=10**9,
                      preview_every=10**9))
    (res,) = fin.results
    assert res.converged, res.final_residual
    assert res.psnr > 27.85


def test_bench_de_rnn_prints_the_row_against_the_paper(shared_data, tmp_path, capsys):
    import json

    from sci_viewer.cli import main

    out = tmp_path / "b.json"
    assert main(["bench", "de-rnn", "--scenes", "drop40", "--degap-model", "", "--max-iter", "3", "--k", "0",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "DE-RNN on drop40" in printed and "paper's DE-RNN 30.16 dB" in printed
    rows = {r["algo"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"gap-tv", "de-rnn"} and rows["de-rnn"]["iterations"] == 3
