"""Several measurements solved as one batch give what they give one at a time (issue 15, item 4)."""

from __future__ import annotations

import functools

import time

import numpy as np
import pytest
import torch

from sci_viewer.algorithms import get_algorithm
from sci_viewer.batching import batch_size, round_robin
from sci_viewer.demo import demo_capture
from sci_viewer.engine import IterationEvent, Job, MeasurementResult, execute


@functools.lru_cache(maxsize=None)  # each solve once per test session
def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _run(algo: str, batch: int, tol: float, max_iter: int = 40, **settings) -> tuple:
    events: list = []
    final = execute(Job(demo_capture(size=32, n_meas=3), algo, {"tol": tol, "max_iter": max_iter, **settings},
                        device="cpu", batch=batch, preview_every=1), callback=events.append)
    return final, events


@pytest.mark.parametrize("algo, tol, max_iter", [("de-gap", 3e-3, 40), ("de-rnn", 0.0, 4)])
def test_batched_solve_equals_one_at_a_time(algo: str, tol: float, max_iter: int) -> None:
    alone, _ = _run(algo, 1, tol, max_iter)
    (together, events), wall = _timed(_run, algo, 3, tol, max_iter)
    # each measurement is charged its share of the batched steps, not the whole batch: the shares add
    # up to no more than the job's wall time (no timing threshold: these hosts' speeds vary 3x)
    assert sum(r.seconds for r in together.results) <= wall
    assert [r.index for r in together.results] == [0, 1, 2]
    assert [r.iterations for r in together.results] == [r.iterations for r in alone.results]
    np.testing.assert_allclose(together.reconstruction, alone.reconstruction, atol=1e-4)
    for a, b in zip(alone.results, together.results):
        assert b.psnr == pytest.approx(a.psnr, abs=1e-3)
        assert b.final_residual == pytest.approx(a.final_residual, rel=1e-2)
        assert b.converged == a.converged
    # events still per measurement: each measurement's k runs 1..iterations, the batch's interleaved
    iters = [e for e in events if isinstance(e, IterationEvent)]
    for r in together.results:
        assert [e.k for e in iters if e.measurement == r.index] == list(range(1, r.iterations + 1))
        assert all(e.estimate is not None and e.estimate.shape == (8, 32, 32)
                   for e in iters if e.measurement == r.index)
    assert [e.measurement for e in iters[:3]] == [0, 1, 2]
    assert sum(isinstance(e, MeasurementResult) for e in events) == 3
    assert all(r.seconds > 0 for r in together.results)
    assert [e.measurement for e in together.trace] == sorted(e.measurement for e in together.trace)


def test_converged_measurement_is_frozen() -> None:
    """One measurement converges earlier than the others: it stops being updated (its iteration
    count and estimate are its unbatched ones) while the others go on."""
    # the exact projection: there, these measurements converge at different iterations
    alone, _ = _run("de-gap", 1, 3e-3, 40, estimate_error=0.0)
    together, _ = _run("de-gap", 3, 3e-3, 40, estimate_error=0.0)
    counts = [r.iterations for r in together.results]
    assert len(set(counts)) > 1, "the test needs measurements that converge at different iterations"
    first = int(np.argmin(counts))
    np.testing.assert_allclose(together.results[first].estimate, alone.results[first].estimate, atol=1e-5)


def test_batch_size_policy() -> None:
    degap, gaptv = get_algorithm("de-gap"), get_algorithm("gap-tv")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert batch_size(None, gaptv, cuda, 6) == 1  # cannot join solvers
    assert batch_size(None, degap, cuda, 6) == 6  # a GPU batches
    assert batch_size(None, degap, cuda, 20) == 8
    assert batch_size(None, degap, cpu, 6) == 1  # the app on the CPU: one at a time
    assert batch_size(4, degap, cpu, 6) == 4 and batch_size(9, degap, cpu, 2) == 2
    assert batch_size(4, degap, cpu, 1) == 1


def test_round_robin_interleaves_until_all_done() -> None:
    streams = {0: iter([1, 2, "end0"]), 1: iter([1, "end1"])}
    assert list(round_robin(streams, int)) == [(0, 1), (1, 1), (0, 2), (1, "end1"), (0, "end0")]


def test_cancel_stops_every_measurement_of_a_batch() -> None:
    from sci_viewer.engine import CancelToken, JobFinished, run_job

    cancel = CancelToken()
    job = Job(demo_capture(size=32, n_meas=3), "de-gap", {"tol": 0.0, "max_iter": 40}, device="cpu", batch=3)
    seen = []
    for event in run_job(job, cancel):
        seen.append(event)
        if isinstance(event, IterationEvent) and event.k == 2 and event.measurement == 1:
            cancel.cancel()
    final = seen[-1]
    assert isinstance(final, JobFinished) and final.cancelled
    assert [r.iterations for r in final.results] == [2, 2, 1]  # measurement 2 had not had its 2nd turn


def test_stalled_measurements_stop_in_a_batch_as_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stall safeguard's stop (every fallback tried) ends each measurement of a batch where it
    ends it alone, short of max_iter and not converged (a strict test setting makes every solve stall)."""
    import sci_viewer.solvers.safeguard as safeguard
    from sci_viewer.solvers.safeguard import SafeguardSettings

    monkeypatch.setattr(safeguard, "SafeguardSettings", functools.partial(SafeguardSettings, window=2, drop=0.01))
    # and no solve counts as on course to reach tol before max_iter (see test_safeguard for that rule)
    monkeypatch.setattr(safeguard.StallDetector, "on_course",
                        lambda self, tol, remaining: torch.zeros_like(self.best, dtype=torch.bool))
    alone, _ = _run("de-gap", 1, 1e-12, 40)
    together, _ = _run("de-gap", 3, 1e-12, 40)
    for a, b in zip(alone.results, together.results):
        assert [s["action"] for s in b.safeguards][-1] == "stop"
        assert b.iterations == a.iterations < 40 and not b.converged
    np.testing.assert_allclose(together.reconstruction, alone.reconstruction, atol=1e-4)


def test_a_stop_is_reported_by_the_measurement_it_stopped_only() -> None:
    """The batch's fallbacks concern every measurement in it; a stop only those it stopped."""
    from types import SimpleNamespace

    from sci_viewer.algorithms.deq_batch import BatchMember
    from sci_viewer.solvers.safeguard import SafeguardAction

    actions = [SafeguardAction(11, "restart", 1e-3), SafeguardAction(44, "stop", 1e-3), SafeguardAction(50, "stop", 1e-3)]
    batch = SimpleNamespace(_iterator=SimpleNamespace(actions=actions), stopped={0: 44, 2: 50}, max_iter=60)
    members = [BatchMember(batch, row) for row in range(3)]
    for m in members:
        m._k = 60
    assert [[(a.k, a.action) for a in m.safeguards] for m in members] == [
        [(11, "restart"), (44, "stop")], [(11, "restart")], [(11, "restart"), (50, "stop")]]
