"""The stall safeguard of fixed-point solves (sci_viewer.solvers.safeguard)."""

from __future__ import annotations

import pytest
import torch

from sci_viewer.solvers import anderson
from sci_viewer.solvers.anderson import AndersonIterator
from sci_viewer.solvers.fixed_point import FixedPointIterator, relative_residual, run_iterator
from sci_viewer.solvers.safeguard import SafeguardSettings, StallDetector, safeguarded_anderson


class _StuckAnderson(AndersonIterator):
    """An Anderson iterator that makes no progress at all: every step evaluates ``f`` at its start.
    (A real stall of Anderson depends on the map's numerics and on the machine's floating point; this
    one is the same everywhere, so the test checks the safeguard's logic, not a lucky map.)"""

    def __init__(self, f, x0, settings=None):  # type: ignore[no-untyped-def]
        super().__init__(f, x0, settings)
        self._start = x0

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        fx = self.f(self._start)
        self.iterations += 1
        return fx, relative_residual(fx, self._start)


def _contraction(d: int = 20, seed: int = 2):
    """``f(x) = M x + b`` with M symmetric, spectrum [-0.5, 0.5]: damped plain iteration converges (rate <= 0.75)."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    M = (Q * torch.linspace(-0.5, 0.5, d, dtype=torch.float64)) @ Q.T
    b = torch.randn(d, generator=g, dtype=torch.float64)
    return (lambda x: x @ M.T + b), torch.zeros(1, d, dtype=torch.float64)


def test_safeguard_reaches_tol_where_anderson_stalls(monkeypatch: pytest.MonkeyPatch) -> None:
    import sci_viewer.solvers.safeguard as safeguard

    f, x0 = _contraction()
    _, stuck = run_iterator(_StuckAnderson(f, x0), x0, tol=1e-9, max_iter=100)
    assert not stuck.converged  # unguarded, a stalled Anderson runs into max_iter
    monkeypatch.setattr(safeguard, "AndersonIterator", _StuckAnderson)
    _, info, actions = safeguarded_anderson(f, x0, tol=1e-9, max_iter=300)
    assert info.converged and info.iterations < 300
    # restarted Anderson and damped Anderson stall too (same stub); damped plain iteration converges
    assert [a.action for a in actions] == ["restart", "damp", "plain"]
    window = SafeguardSettings().window
    assert [a.k for a in actions] == [(window + 1) * i for i in (1, 2, 3)]  # a stall: window steps without progress
    assert [a.beta for a in actions] == [1.0, 0.5, 0.5]
    assert actions[0].as_dict().keys() == {"k", "action", "residual"}
    assert "stalled at iteration" in actions[0].describe()


def test_well_behaved_solve_is_bit_identical() -> None:
    g = torch.Generator().manual_seed(0)
    d = 50
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    M = (Q * torch.linspace(-0.8, 0.8, d)) @ Q.T
    b = torch.randn(3, d, generator=g)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (x @ M.T + b).clamp(-1, 1)

    x0 = torch.zeros(3, d)
    out, info = anderson(f, x0, tol=1e-6, max_iter=100)
    out2, info2, actions = safeguarded_anderson(f, x0, tol=1e-6, max_iter=100)
    assert info.converged and actions == []
    assert torch.equal(out, out2) and torch.equal(info.residuals, info2.residuals)


def test_detector_flags_only_a_stalled_sample_not_at_tol() -> None:
    det = StallDetector(window=3, drop=0.5)
    flags = [det.update(torch.tensor([1.0 / 2**k, 0.1, 1e-9]), tol=1e-6) for k in range(6)]
    assert [bool(f[0]) for f in flags] == [False] * 6  # halving every step: progress
    assert bool(flags[3][1]) and not bool(flags[2][1])  # flat for 3 steps: stalled
    assert not any(bool(f[2]) for f in flags)  # already at tol


def test_a_slow_steady_fall_that_reaches_tol_before_the_cap_is_not_a_stall() -> None:
    """Falling by 0.9 a step (short of the detector's 0.5 per 3 steps), sample 0 reaches tol 1e-3
    from 1 in about 66 steps: with 100 steps left that is on course, with 20 it is a stall. A flat
    sample (1) stalls either way."""
    def flags(remaining: int) -> list[torch.Tensor]:
        det = StallDetector(window=3, drop=0.5)
        return [det.update(torch.tensor([0.9**k, 0.1]), tol=1e-3, remaining=remaining) for k in range(6)]

    plenty, few = flags(100), flags(20)
    assert not any(bool(f[0]) for f in plenty)
    assert bool(few[3][0]) and not bool(few[2][0])
    assert bool(plenty[3][1]) and bool(few[3][1])
    det = StallDetector(window=3, drop=0.5)
    for k in range(4):
        det.update(torch.tensor([0.9**k]), tol=0.0)
    assert not bool(det.on_course(0.0, 10**6)[0])  # tol 0 (run to max_iter) is never on course
    assert bool(det.on_course(1e-3, 10**6)[0])


@pytest.mark.parametrize("max_iter, converged", [(None, False), (600, True)])
def test_a_slowly_converging_solve_runs_to_tol_when_the_cap_allows(max_iter: int | None, converged: bool) -> None:
    """Plain iteration of a map contracting by 0.98 a step falls by 0.82 per 10 steps, short of the
    0.8 rule: without the cap the safeguard stops it as stalled; told the cap of 600, it lets the
    solve reach tol (about 150 steps)."""
    from sci_viewer.solvers.safeguard import SafeguardedIterator

    scale = torch.tensor([0.98, 0.2, 0.1])
    f = lambda x: x * scale + 1.0  # noqa: E731  fixed point 1 / (1 - scale)
    x0 = torch.zeros(1, 3)
    it = SafeguardedIterator(f, x0, None, tol=1e-3, max_iter=max_iter)
    _, info = run_iterator(it, x0, tol=1e-3, max_iter=600)
    assert info.converged == converged and info.iterations < 600
    assert [a.action for a in it.actions] == ([] if converged else ["stop"])


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SafeguardSettings(actions=("nope",))
    with pytest.raises(ValueError):
        SafeguardSettings(drop=1.5)


def test_engine_reports_safeguard_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DE-GAP run whose safeguard fires (a strict test setting) says so in notices and the report,
    and is the plain run up to the first action."""
    import functools

    import sci_viewer.solvers.safeguard as safeguard
    from sci_viewer.demo import demo_capture
    from sci_viewer.engine import Job, NoticeEvent, execute

    monkeypatch.setattr(safeguard, "SafeguardSettings",
                        functools.partial(SafeguardSettings, window=2, drop=0.01))
    cap = demo_capture(size=32, n_frames=8, n_meas=1)
    notices: list[str] = []
    settings = {"model": "degap-default", "tol": 1e-12, "max_iter": 30, "gap_tv_start": 0,
                "estimate_error": 0.0, "noisy_tol": 0.0}  # notices: the safeguard's only
    fin = execute(Job(cap, "de-gap", settings, device="cpu"),
                  callback=lambda e: notices.append(e.message) if isinstance(e, NoticeEvent) else None)
    measurement = fin.report()["measurements"][0]
    report = measurement["safeguards"]
    assert [a["action"] for a in report] == ["restart", "damp", "plain", "stop"]
    assert len(notices) == 4 and "measurement 0: stalled at iteration" in notices[0]
    assert "stopped short of tol" in notices[-1]
    # every fallback tried: the solve ends at the stop, not at max_iter, and says it did not converge
    assert measurement["iterations"] == report[-1]["k"] < 30 and not measurement["converged"]
    assert len(fin.trace) == report[-1]["k"]
    off = execute(Job(cap, "de-gap", dict(settings, safeguard=False), device="cpu"))
    assert off.results[0].safeguards == []
    first = report[0]["k"]
    assert [e.residual for e in fin.trace][:first] == [e.residual for e in off.trace][:first]
    assert [e.residual for e in fin.trace][first] != [e.residual for e in off.trace][first]


class _StuckPlain(FixedPointIterator):
    """Damped plain iteration that makes no progress either (see :class:`_StuckAnderson`)."""

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        fx = self.f(self.x)
        self.iterations += 1
        return fx, relative_residual(fx, self.x)


@pytest.mark.parametrize("stop", [True, False])
def test_a_stall_with_no_fallback_left_stops_the_sample(monkeypatch: pytest.MonkeyPatch, stop: bool) -> None:
    import sci_viewer.solvers.safeguard as safeguard

    f, x0 = _contraction()
    monkeypatch.setattr(safeguard, "AndersonIterator", _StuckAnderson)
    monkeypatch.setattr(safeguard, "FixedPointIterator", _StuckPlain)
    _, info, actions = safeguarded_anderson(f, x0, tol=1e-9, max_iter=200, settings=SafeguardSettings(stop=stop))
    window = SafeguardSettings().window
    assert not info.converged
    assert [a.action for a in actions] == ["restart", "damp", "plain", "stop" if stop else "none"]
    assert info.iterations == ((window + 1) * 4 if stop else 200)  # stopped at the fourth stall, or ran on
    assert ("stopped short of tol" in actions[-1].describe()) == stop


def test_only_the_stalled_sample_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a batch, a sample that stalls after every fallback is stopped; one still converging is not."""
    import sci_viewer.solvers.safeguard as safeguard

    monkeypatch.setattr(safeguard, "SafeguardSettings", lambda: SafeguardSettings(window=3, drop=0.5, actions=()))
    f, x0 = _contraction()
    stuck = torch.full((1, x0.shape[1]), 0.3, dtype=torch.float64)

    def g(x: torch.Tensor) -> torch.Tensor:  # sample 0 converges; sample 1 never moves: f(x) = x + const
        return torch.cat([f(x[:1]), x[1:] + 0.01 * stuck])

    it = safeguard.SafeguardedIterator(g, torch.cat([x0, x0 + 1.0]), None, tol=1e-9)
    flags = []
    for _ in range(8):
        it.step()
        flags.append(it.stopped.tolist())
    assert flags[2] == [False, False] and flags[3] == [False, True]  # 3 steps without progress: stopped
    assert [a.action for a in it.actions] == ["stop"]
    it.select(torch.tensor([0]))
    assert it.stopped.tolist() == [False]


def test_tol_zero_runs_to_max_iter_past_a_final_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    """tol 0 asks to run to max_iter (e.g. the stability check of `bench de-gap`): the stall after the
    last fallback is recorded, the solve is not stopped."""
    import sci_viewer.solvers.safeguard as safeguard

    f, x0 = _contraction()
    monkeypatch.setattr(safeguard, "AndersonIterator", _StuckAnderson)
    monkeypatch.setattr(safeguard, "FixedPointIterator", _StuckPlain)
    _, info, actions = safeguarded_anderson(f, x0, tol=0.0, max_iter=80)
    assert [a.action for a in actions] == ["restart", "damp", "plain", "none"] and info.iterations == 80
