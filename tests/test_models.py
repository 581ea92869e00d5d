"""Denoiser registry: shapes for any B and size, spectral norms, save/load round trip."""

from __future__ import annotations

import pytest
import torch

from sci_viewer.models import (
    ModelInfo, build_denoiser, denoiser_names, list_models, load_model, register_denoiser, save_model,
)

SMALL = {"cnn": {"features": 8}, "rsn-cnn": {"features": 8}, "unet": {"ch": 4}, "ffdnet": {"features": 8, "depth": 4}}


def test_builtin_names_present():
    assert {"cnn", "rsn-cnn", "unet", "ffdnet"} <= set(denoiser_names())


@pytest.mark.parametrize("arch", ["cnn", "rsn-cnn", "unet", "ffdnet"])
@pytest.mark.parametrize("b,h,w", [(8, 32, 32), (10, 70, 90), (14, 33, 17)])
def test_shape_preserved(arch, b, h, w):
    torch.manual_seed(0)
    net = build_denoiser(arch, **SMALL[arch]).eval()
    x = torch.rand(2, b, h, w)
    with torch.no_grad():
        out = net(x, sigma=torch.tensor([0.05, 0.1]))
        out_none = net(x)
    assert out.shape == x.shape and out_none.shape == x.shape
    assert torch.isfinite(out).all()


def test_frames_stay_free_of_each_other_without_temporal_mixing():
    net = build_denoiser("unet", ch=4, temporal=False).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 8, 32, 32)
    with torch.no_grad():
        a = net(x)[0, 0]
        x[0, 3] = 0
        assert torch.allclose(net(x)[0, 0], a)


def test_rsn_layers_have_unit_spectral_norm():
    torch.manual_seed(0)
    net = build_denoiser("rsn-cnn", features=16)
    net.train()
    with torch.no_grad():
        for _ in range(30):  # power iterations run in train-mode forwards
            net(torch.rand(1, 2, 16, 16))
    net.eval()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4
    for conv in convs:
        w = conv.weight.detach().reshape(conv.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(w, ord=2) <= 1.05


def test_unknown_arch_refused():
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match="Unknown denoiser"):
        build_denoiser("nope")


@pytest.mark.parametrize("arch", ["cnn", "rsn-cnn", "unet", "ffdnet"])
def test_save_load_round_trip(tmp_path, arch):
    torch.manual_seed(1)
    net = build_denoiser(arch, **SMALL[arch])
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    net.eval()
    path = save_model(net, tmp_path / f"{arch}.pt", arch, SMALL[arch], {"summary": "test model"})
    loaded = load_model(str(path))
    assert not loaded.training
    x = torch.rand(1, 8, 24, 24)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded(x), atol=1e-6)
    infos = list_models(tmp_path)
    assert [i.name for i in infos] == [arch] and isinstance(infos[0], ModelInfo)
    assert infos[0].arch == arch and infos[0].summary == "test model"


def test_bad_model_files_are_named_with_the_problem(tmp_path):
    from sci_viewer.errors import JobError

    (tmp_path / "garbage.pt").write_bytes(b"\x00not a torch file" * 100)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    state = build_denoiser("unet", ch=4).state_dict()
    state.pop("head.weight")
    torch.save({"arch": "unet", "kwargs": {"ch": 4}, "state_dict": state}, tmp_path / "misfit.pt")
    torch.save({"arch": "unet", "kwargs": {"ch": 4, "colour": True}, "state_dict": state}, tmp_path / "unknown.pt")
    for name, message in {"garbage": "not a torch file, or damaged", "foreign": "not a sci_viewer model file",
                          "misfit": "weights do not fit a unet", "unknown": "a unet does not take"}.items():
        with pytest.raises(JobError, match=message):
            load_model(str(tmp_path / f"{name}.pt"))
    with pytest.raises(JobError) as info:
        load_model(str(tmp_path / "garbage.pt"))
    assert "weights_only" not in str(info.value)  # torch's advice to load unsafely is not passed on
    with pytest.raises(JobError, match="Model file '.*missing.pt' does not exist"):
        load_model(str(tmp_path / "missing.pt"))
    # unreadable and foreign files are left out of the listing (the misfit one fails when loaded)
    assert [i.name for i in list_models(tmp_path)] == ["misfit", "unknown"]


def test_plugin_registration():
    class Identity(torch.nn.Module):
        residual = False

        def forward(self, x, sigma=None):
            return x

    register_denoiser("test-identity", Identity)
    assert "test-identity" in denoiser_names()
    x = torch.rand(1, 8, 8, 8)
    assert torch.equal(build_denoiser("test-identity")(x), x)


def test_shipped_default_model_loads_if_present():
    infos = {m.name: m for m in list_models()}
    if "degap-default" not in infos:
        pytest.skip("no shipped default model yet")
    net = load_model("degap-default")
    assert infos["degap-default"].card
    with torch.no_grad():
        out = net(torch.rand(1, 8, 40, 56))
    assert out.shape == (1, 8, 40, 56)


def test_mask_aware_unet_sees_the_mask_and_grows_from_a_mask_blind_one():
    from sci_viewer.models import denoise, equilibrium_map
    from sci_viewer.physics import Cacti

    torch.manual_seed(0)
    blind = build_denoiser("unet", ch=4, mid_blocks=1).eval()
    for p in blind.parameters():
        torch.nn.init.normal_(p, std=0.1)
    aware = build_denoiser("unet", ch=4, mid_blocks=2, mask_input=True).eval()
    aware.grow_from(blind.state_dict())
    x = torch.rand(1, 10, 30, 22)
    op = Cacti((torch.rand(10, 30, 22) > 0.5).float())
    y = op.A(x[0])
    with torch.no_grad():
        assert torch.allclose(equilibrium_map(aware, op, y)(x), equilibrium_map(blind, op, y)(x), atol=1e-6)
        torch.nn.init.normal_(aware.head.weight, std=0.1)   # now the weights matter
        other = Cacti((torch.rand(10, 30, 22) > 0.5).float())
        assert not torch.allclose(denoise(aware, x, None, op), denoise(aware, x, None, other))
    with pytest.raises(ValueError, match="mask-aware"):
        aware(x)
    with pytest.raises(ValueError, match="do not match"):
        aware(x, weights=torch.ones(8, 30, 22))
