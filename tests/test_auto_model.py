"""DE-GAP's model ``auto``: degap-default for a clean measurement, degap-noise for a noisy one
(sci_viewer.models.auto), said in the notes, recorded in the run configuration, batched per model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sci_viewer.demo import demo_capture
from sci_viewer.engine import Job, execute
from sci_viewer.models import auto
from sci_viewer.simulation import NoiseModel


def _capture(noise: list[NoiseModel | None]):
    base = demo_capture(size=64, n_meas=len(noise))
    rng = np.random.default_rng(3)
    meas = np.stack([base.meas[i] if m is None else m.apply(rng, base.meas[i].astype(np.float64))
                     for i, m in enumerate(noise)])
    return dataclasses.replace(base, meas=meas.astype(np.float32))


def test_rule() -> None:
    assert auto.choose(auto.NOISE_THRESHOLD - 0.1) == auto.CLEAN_MODEL == "degap-default"
    assert auto.choose(auto.NOISE_THRESHOLD) == auto.NOISY_MODEL == "degap-noise"
    assert "degap-noise" in auto.describe(80.0, True) and ">=" in auto.describe(80.0, True)
    assert auto.suggestions()[0] == "auto" and "degap-noise" in auto.suggestions()


@pytest.mark.parametrize("noise, chosen", [(5.0, "degap-default"), (80.0, "degap-noise")])
def test_auto_is_the_chosen_model(noise: float, chosen: str) -> None:
    """With the noise given, ``auto`` is exactly the model it chooses, and the notes say which and why."""
    capture = demo_capture(size=32, n_meas=1)
    settings = {"noise": noise, "max_iter": 4, "tol": 0.0}
    picked = execute(Job(capture, "de-gap", settings, device="cpu"))
    named = execute(Job(capture, "de-gap", {**settings, "model": chosen}, device="cpu"))
    np.testing.assert_array_equal(picked.reconstruction, named.reconstruction)
    notes = picked.results[0].notes
    assert notes[0].startswith(f"model auto: {chosen}") and "given" in notes[0]
    assert notes[1:] == named.results[0].notes


def test_a_noisy_and_a_clean_measurement_batched_as_alone() -> None:
    """The noise is estimated per measurement; measurements that chose different models are solved
    in one batch per model, each as it is alone."""
    capture = _capture([None, NoiseModel(photons=30.0, read=0.05)])
    runs = {b: execute(Job(capture, "de-gap", {"max_iter": 6, "tol": 0.0}, device="cpu", batch=b)) for b in (1, 2)}
    chosen = [r.notes[0].split()[2] for r in runs[2].results]
    assert chosen == ["degap-default", "degap-noise"], [r.notes[0] for r in runs[2].results]
    assert all("estimated" in r.notes[0] for r in runs[2].results)
    assert [r.notes for r in runs[2].results] == [r.notes for r in runs[1].results]
    np.testing.assert_allclose(runs[2].reconstruction, runs[1].reconstruction, atol=1e-4)


def test_run_configuration_records_both_candidates() -> None:
    config = Job(demo_capture(size=32, n_meas=1), "de-gap", {}).config()
    record = config["provenance"]["model"] if "provenance" in config else None
    assert record is not None, config.keys()
    assert record["name"] == "auto" and set(record["chooses"]) == {"degap-default", "degap-noise"}
    assert all(len(r["sha256"]) == 64 for r in record["chooses"].values())


def test_de_rnn_has_no_auto() -> None:
    from sci_viewer.errors import JobError

    with pytest.raises(JobError, match="'auto' is DE-GAP's choice.*DE-RNN takes a recurrent model"):
        execute(Job(demo_capture(size=32, n_meas=1), "de-rnn", {"model": "auto", "max_iter": 2}, device="cpu"))
