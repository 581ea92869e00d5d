"""DE-GAP-FFDNet (issue 16): PnP-GAP's noise-conditioned denoiser trained through the DE-GAP fixed
point, offered as a DE-GAP model (not the default) and told the noise offset it was trained with."""

from __future__ import annotations

import numpy as np

from sci_viewer.algorithms.deq import noise_rule
from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, execute
from sci_viewer.models import DENOISER, auto, list_models, load_model, model_kind

NAME = "degap-ffdnet"


def test_offered_as_a_de_gap_model_with_its_card_but_not_chosen_by_auto():
    infos = {m.name: m for m in list_models()}
    assert infos[NAME].card and "DE-GAP-FFDNet" in infos[NAME].card
    assert NAME in auto.suggestions()
    assert NAME not in (auto.CLEAN_MODEL, auto.NOISY_MODEL)


def test_a_noise_conditioned_denoiser_told_its_trained_offset():
    net = load_model(NAME)
    assert net.noise_input and model_kind(net) == DENOISER
    assert noise_rule(net) == 10.0  # deq.sigma_offset of resources/train/degap-sigma-b3-tight.yaml


def test_de_gap_with_it_improves_on_its_gap_tv_start():
    """Through the engine as a user runs it: the fixed point it converges to is better than the 20
    GAP-TV iterations it starts from, and the log notes name the noise it was told."""
    capture = demo_capture(size=64, n_meas=1)
    start = execute(Job(capture, "gap-tv", {"iterations": 20}, device="cpu"))
    run = execute(Job(capture, "de-gap", {"model": NAME, "max_iter": 40}, device="cpu"))
    res = run.results[0]
    assert np.isfinite(run.reconstruction).all()
    assert res.psnr is not None and start.results[0].psnr is not None
    assert res.psnr > start.results[0].psnr + 0.5, (res.psnr, start.results[0].psnr)
    assert any("noise" in n for n in res.notes), res.notes
