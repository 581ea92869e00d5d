"""DE-GAP's model ``auto``: the clean-capture model, or the noise-aware one for a noisy capture.

Each measurement's noise is estimated from the capture (:func:`sci_viewer.noise.estimate_measurement_sigma`,
or given as the ``noise`` setting); at or above :data:`NOISE_THRESHOLD` DE-GAP takes
:data:`NOISY_MODEL`, below it :data:`CLEAN_MODEL`. The log, the report's ``notes`` and the run
configuration (both candidates, with their SHA-256) say what was chosen and why.
"""

from __future__ import annotations

from typing import Any

from sci_viewer.noise import NOISY_LEVEL

AUTO = "auto"
CLEAN_MODEL = "degap-default"
NOISY_MODEL = "degap-noise"
#: The measurement noise (0-255 frame scale, y's units) at which ``auto`` takes :data:`NOISY_MODEL`.
#: Chosen on 18 captures simulated from the held-out DAVIS scenes at B = 12 (a B the generalization
#: table does not use), 256 px, i.i.d. and grey masks, no / moderate / strong noise, from the per-capture
#: PSNR of both models (``sci-viewer bench generalization --frames 12 --sizes 256 --kinds iid,grey
#: --algos "gap-tv,de-gap:model=degap-default,de-gap:model=degap-noise"``, 2026-12-07): mean over GAP-TV
#: +1.70 dB for degap-default alone, +1.78 for degap-noise alone (worst capture -0.85: it is below
#: degap-default on every noiseless capture), and with the threshold at 20 / 30 / 40 / 50 / 60 / 80:
#: +1.82 / +1.83 / +1.83 / +1.85 / +1.83 / +1.78 (worst -0.28 from 30 up). The estimates there were
#: 2-26 on noiseless captures, 15-47 with moderate and 59-105 with strong noise; the benchmark
#: scenes (noiseless) read 1-10, so their model stays degap-default. (:data:`sci_viewer.noise.NOISY_LEVEL`)
NOISE_THRESHOLD = NOISY_LEVEL


def choose(noise: float) -> str:
    """The model ``auto`` takes for a measurement with noise ``noise`` (0-255)."""
    return NOISY_MODEL if noise >= NOISE_THRESHOLD else CLEAN_MODEL


def describe(noise: float, estimated: bool) -> str:
    """One line for the log and the report: what ``auto`` chose and why."""
    source = "estimated" if estimated else "given"
    side = ">=" if noise >= NOISE_THRESHOLD else "<"
    return f"model auto: {choose(noise)} (measurement noise {noise:.1f}/255, {source}, {side} {NOISE_THRESHOLD:g})"


def suggestions() -> list[str]:
    """``auto`` and the trained denoisers: the DE-GAP model setting's choices."""
    from sci_viewer.models import denoiser_model_names

    return [AUTO] + denoiser_model_names()


def record() -> dict[str, Any]:
    """``auto`` for a run configuration: the rule and both candidates' files (``model_record``)."""
    from sci_viewer.errors import JobError
    from sci_viewer.models import model_record

    chooses: dict[str, Any] = {}
    for name in (CLEAN_MODEL, NOISY_MODEL):
        try:
            chooses[name] = model_record(name)
        except JobError:
            chooses[name] = {"name": name, "file": None, "source": None, "sha256": None}
    return {"name": AUTO, "rule": f"{NOISY_MODEL} at measurement noise >= {NOISE_THRESHOLD:g}/255, else {CLEAN_MODEL}",
            "chooses": chooses}
