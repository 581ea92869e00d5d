"""The engine: one event per iteration, metrics, cancel, warm start, faults."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sci_viewer.algorithms import AlgorithmSpec, register_algorithm
from sci_viewer.engine import (CancelToken, IterationEvent, Job, JobFinished, MeasurementResult, execute,
                               run_job)
from sci_viewer.errors import JobError, MaskRequiredError


def test_one_event_per_iteration_with_metrics(small_demo):
    events = list(run_job(Job(small_demo, "gap-tv", {"iterations": 7}, device="cpu", preview_every=3)))
    its = [e for e in events if isinstance(e, IterationEvent)]
    assert [e.k for e in its] == list(range(1, 8)) * 2
    assert [e.measurement for e in its] == [0] * 7 + [1] * 7
    assert all(e.psnr is not None and np.isfinite(e.residual) for e in its)
    # Estimates arrive every 3rd iteration and on the last one, SSIM with them.
    assert [e.k for e in its[:7] if e.estimate is not None] == [3, 6, 7]
    assert all(e.ssim is not None for e in its if e.estimate is not None)
    assert its[2].estimate.shape == (8, 64, 64)
    final = events[-1]
    assert isinstance(final, JobFinished) and not final.cancelled
    assert final.reconstruction.shape == (2, 8, 64, 64)
    assert len(final.trace) == 14 and all(e.estimate is None for e in final.trace)


def test_gap_tv_improves_over_iterations(small_demo):
    final = execute(Job(small_demo, "gap-tv", {"iterations": 30}, device="cpu", measurements=[0]))
    psnrs = [e.psnr for e in final.trace]
    assert psnrs[-1] > psnrs[0] + 3
    assert final.results[0].psnr == pytest.approx(psnrs[-1], abs=1e-6)
    # Residual (relative change) shrinks as the iteration settles.
    assert final.trace[-1].residual < final.trace[1].residual


def test_cancel_between_iterations_keeps_consistent_state(small_demo):
    cancel = CancelToken()
    seen = []
    for event in run_job(Job(small_demo, "gap-tv", {"iterations": 500}, device="cpu"), cancel):
        seen.append(event)
        if isinstance(event, IterationEvent) and event.k == 5:
            cancel.cancel()
    its = [e for e in seen if isinstance(e, IterationEvent)]
    assert its[-1].k == 5
    results = [e for e in seen if isinstance(e, MeasurementResult)]
    assert len(results) == 1 and results[0].iterations == 5  # the second measurement never starts
    final = seen[-1]
    assert isinstance(final, JobFinished) and final.cancelled
    assert np.isfinite(final.reconstruction).all()


def test_warm_start_continues_iteration_numbers(small_demo):
    first = execute(Job(small_demo, "gap-tv", {"iterations": 5}, device="cpu", measurements=[1]))
    more = execute(Job(small_demo, "gap-tv", {"iterations": 3}, device="cpu", measurements=[1],
                       warm_start=first.reconstruction, k_offset=5))
    assert [e.k for e in more.trace] == [6, 7, 8]
    assert more.results[0].iterations == 8


@pytest.mark.parametrize("algo, extra", [("gap-tv", {}), ("pnp-gap", {"iters_per_level": 3})])
def test_continuing_from_a_result_is_exactly_the_longer_run(small_demo, algo, extra):
    # accelerated GAP keeps a running measurement (and PnP-GAP its place in the noise schedule)
    # besides the estimate: it travels in result.state
    straight = execute(Job(small_demo, algo, {"iterations": 8, **extra}, device="cpu", measurements=[0, 1]))
    first = execute(Job(small_demo, algo, {"iterations": 5, **extra}, device="cpu", measurements=[0, 1]))
    more = execute(Job(small_demo, algo, {"iterations": 3, **extra}, device="cpu", measurements=[0, 1],
                       warm_start=first.reconstruction, warm_state=[r.state for r in first.results],
                       k_offset=[r.iterations for r in first.results]))
    assert np.allclose(more.reconstruction, straight.reconstruction, atol=1e-5)
    assert [r.iterations for r in more.results] == [8, 8]


def test_continuing_gap_tv_without_its_state_keeps_the_estimate(small_demo):
    first = execute(Job(small_demo, "gap-tv", {"iterations": 5}, device="cpu", measurements=[0]))
    # without the state it still continues from the estimate instead of falling back
    plain = execute(Job(small_demo, "gap-tv", {"iterations": 1}, device="cpu", measurements=[0],
                        warm_start=first.reconstruction))
    assert plain.results[0].psnr > first.results[0].psnr - 0.5


def test_per_measurement_warm_starts_and_offsets(small_demo):
    first = execute(Job(small_demo, "gap-tv", {"iterations": 4}, device="cpu", measurements=[0]))
    more = execute(Job(small_demo, "gap-tv", {"iterations": 2}, device="cpu", measurements=[0, 1],
                       warm_start=[first.reconstruction[0], None], k_offset=[4, 0]))
    assert [e.k for e in more.trace] == [5, 6, 1, 2]
    with pytest.raises(JobError, match="k_offset holds 1 entries for 2"):
        execute(Job(small_demo, "gap-tv", {"iterations": 2}, device="cpu", measurements=[0, 1], k_offset=[3]))


def test_back_to_back_jobs_do_not_mix_events(small_demo):
    a = Job(small_demo, "gap-tv", {"iterations": 2}, device="cpu")
    b = Job(small_demo, "gap-tv", {"iterations": 2}, device="cpu")
    ea, eb = run_job(a), run_job(b)
    interleaved = [next(ea), next(eb), next(ea), next(eb)]
    assert [e.job_id for e in interleaved] == [a.job_id, b.job_id, a.job_id, b.job_id]
    assert a.job_id != b.job_id


@dataclass
class _DivergeSettings:
    iterations: int = 10
    blow_up_at: int = 4


class _DivergingSolver:
    def __init__(self, op, y, settings, x0=None):
        self.op, self.s, self.k, self.max_iter = op, settings, 0, settings.iterations
        self.x = op.initial(y)

    def step(self):
        self.k += 1
        self.x = self.x * 1.01 if self.k < self.s.blow_up_at else self.x * float("nan")
        return self.x, 0.01

    def converged(self):
        return False


def test_divergence_stops_with_message_and_keeps_last_good(small_demo):
    register_algorithm(AlgorithmSpec("test-diverge", "Diverging", _DivergeSettings, _DivergingSolver))
    final = execute(Job(small_demo, "test-diverge", device="cpu", measurements=[0]))
    r = final.results[0]
    assert r.iterations == 3
    assert "NaN" in r.message
    assert np.isfinite(r.estimate).all()
    assert r.final_residual == 0.01  # the kept estimate's, not the diverged step's
    json.dumps(final.report(), allow_nan=False)  # valid JSON


class _BuggySolver(_DivergingSolver):
    """A plugin's solver with a bug: it raises (``blow_up_at``) or returns one frame instead of B."""

    def step(self):
        self.k += 1
        if self.s.blow_up_at == 0:
            return self.x[0], 0.01
        if self.s.blow_up_at < 0:
            return None
        if self.k >= self.s.blow_up_at:
            raise ValueError("plugin step failed")
        return self.x, 0.01


@pytest.mark.parametrize("blow_up_at, message", [
    (2, "Buggy failed at iteration 2 of measurement 0: ValueError: plugin step failed"),
    (0, r"Buggy returned an estimate of shape \(64, 64\) at iteration 1 of measurement 0; "
        r"this measurement needs \(B, H, W\) = \(8, 64, 64\)"),
    (-1, r"Buggy returned NoneType at iteration 1 of measurement 0"),
])
def test_a_solver_bug_is_reported_as_a_job_error(small_demo, blow_up_at, message):
    register_algorithm(AlgorithmSpec("test-buggy", "Buggy", _DivergeSettings, _BuggySolver))
    with pytest.raises(JobError, match=message):
        execute(Job(small_demo, "test-buggy", {"blow_up_at": blow_up_at}, device="cpu", measurements=[0]))


def test_unknown_setting_and_algorithm_are_refused(small_demo):
    with pytest.raises(JobError, match="no setting bogus"):
        list(run_job(Job(small_demo, "gap-tv", {"bogus": 1}, device="cpu")))
    with pytest.raises(JobError, match="Unknown algorithm"):
        list(run_job(Job(small_demo, "nope", device="cpu")))


def test_missing_mask_asks_for_one(small_demo):
    from dataclasses import replace

    no_mask = replace(small_demo, mask=None, truth=None)
    with pytest.raises(MaskRequiredError, match="needs the calibrated mask"):
        list(run_job(Job(no_mask, "gap-tv", device="cpu")))


def test_cuda_request_without_gpu_is_a_clear_error(small_demo):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(JobError, match="no CUDA GPU"):
        list(run_job(Job(small_demo, "gap-tv", device="cuda")))


def test_real_like_capture_runs_without_truth(real_like):
    from dataclasses import replace

    cap = replace(real_like, truth=None)
    final = execute(Job(cap, "gap-tv", {"iterations": 3}, device="cpu"))
    assert final.results[0].psnr is None
    assert final.reconstruction.shape == (1, 10, 128, 128)
    assert final.report()["mean_psnr"] is None


@dataclass
class _OomSettings:
    iterations: int = 3


class _OomOffCpuSolver(_DivergingSolver):
    """Runs out of memory on any device but the CPU."""

    def __init__(self, op, y, settings, x0=None):
        if y.device.type != "cpu":
            raise torch.OutOfMemoryError("simulated out of memory")
        self.op, self.k, self.max_iter = op, 0, settings.iterations
        self.x = op.initial(y)

    def step(self):
        self.k += 1
        self.x = self.x * 0.5
        return self.x, 0.5


def test_out_of_memory_on_accelerator_falls_back_to_cpu(small_demo, monkeypatch):
    import sci_viewer.engine as engine

    register_algorithm(AlgorithmSpec("test-oom", "OOM", _OomSettings, _OomOffCpuSolver))
    monkeypatch.setattr(engine, "resolve_device", lambda name: torch.device("meta"))
    events = list(run_job(Job(small_demo, "test-oom", device="cuda", measurements=[0, 1])))
    notices = [e for e in events if isinstance(e, engine.NoticeEvent)]
    assert len(notices) == 1 and "continuing on the CPU" in notices[0].message
    final = events[-1]
    assert final.device == "cpu" and len(final.results) == 2
    assert [e.k for e in final.trace] == [1, 2, 3, 1, 2, 3]


def test_grad_mode_does_not_leak_out_of_a_suspended_job(small_demo):
    events = run_job(Job(small_demo, "gap-tv", {"iterations": 5}, device="cpu"))
    next(events)  # the generator is now suspended mid-measurement
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    events.close()
