"""Several measurements' equilibrium solves (DE-GAP, DE-RNN) advanced as one batched solve.

The solvers of a capture's measurements share one mask and one settings; those with one model
(DE-GAP's ``auto`` may choose one per measurement) are joined: their iterates are stacked
(N, B, H, W) and one Anderson (or plain) iterator takes every step for all of them: one evaluation
of the network on the batch instead of N. Each sample's history, residual and stopping are its own
(the iterators are batched per sample), so a measurement gives what it gives alone, up to floating
point: as soon as its residual reaches ``tol`` (or turns non-finite, or the stall safeguard stops it,
which ends it in the engine) it leaves the batch and is frozen, and the batch shrinks.

The engine drives the joined solvers in lockstep (:func:`sci_viewer.batching.round_robin`): the
first to ask for iteration k makes the batched step, the others read their row of it.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Sequence

import torch

from sci_viewer.errors import JobError
from sci_viewer.models import equilibrium_map
from sci_viewer.physics import Cacti

if TYPE_CHECKING:
    from sci_viewer.algorithms.deq import DeGapSolver


class EquilibriumBatch:
    """The joined solve of ``solvers`` (built, not yet stepped, :class:`~.deq.DeGapSolver` objects)."""

    def __init__(self, solvers: Sequence[DeGapSolver]) -> None:
        first = solvers[0]
        for other in solvers[1:]:
            if other.net is not first.net or other.s != first.s or other.op.mask.shape != first.op.mask.shape:
                raise JobError(f"{first.label}: only measurements with one model, one settings and one mask "
                               "can be solved together.")
        self.label, self.max_iter = first.label, first.max_iter
        self.tols = [s.tol for s in solvers]  # per measurement: DE-GAP raises a noisy one's (noise_tolerance)
        self._net, self._op, self._clip = first.net, first.op, first.s.clip
        self._ensemble = getattr(first.s, "ensemble", 1)  # DE-GAP's denoiser self-ensemble (DE-RNN has none)
        self._ys = torch.stack([s.y for s in solvers])
        # per measurement, its saturated pixels (Cacti.valid), or None when no measurement has any
        self._valid = None if all(s.op.valid is None for s in solvers) else torch.stack(
            [torch.ones_like(s.y) if s.op.valid is None else s.op.valid for s in solvers])
        self._sigma = _stacked([s.sigma for s in solvers], self._ys)
        # the relaxed data step's weight per measurement (its own noise): one float, or (N, 1, 1)
        rho = _stacked([s.rho for s in solvers], self._ys)
        self._rho = rho.view(-1, 1, 1) if isinstance(rho, torch.Tensor) else rho
        self._rows = list(range(len(solvers)))  # batch rows still iterating
        self.stopped: dict[int, int] = {}  # row -> iteration at which the stall safeguard stopped it short of tol
        tol = self.tols[0] if len(set(self.tols)) == 1 else torch.tensor(self.tols, dtype=torch.float64)
        self._iterator = first.make_iterator(self._map(), torch.cat([s.start for s in solvers]), tol)
        self.k = 0
        self._out: dict[int, tuple[torch.Tensor, float]] = {}
        self._share = 0.0

    def _map(self) -> Any:
        index = torch.tensor(self._rows, device=self._ys.device)
        sigma = self._sigma[index] if isinstance(self._sigma, torch.Tensor) else self._sigma
        rho = self._rho[index] if isinstance(self._rho, torch.Tensor) else self._rho
        op = self._op if self._valid is None else Cacti(self._op.mask, self._valid[index])
        return equilibrium_map(self._net, op, self._ys[index], sigma, clip=self._clip, rho=rho,
                               ensemble=self._ensemble)

    def advance(self, row: int, k: int) -> tuple[torch.Tensor, float, float]:
        """Row ``row``'s ``(f(x_k), r(x_k))`` and its share of the step's seconds (steps the batch at need)."""
        if k > self.k:
            self._step()
        if k != self.k or row not in self._out:
            raise JobError(f"{self.label}: measurement {row} of a batched solve asked for iteration {k} "
                           f"while the batch is at iteration {self.k}.")
        fx, r = self._out[row]
        return fx, r, self._share

    def _step(self) -> None:
        t0 = time.perf_counter()
        fx, r = self._iterator.step()
        residuals = r.tolist()  # also waits for the device
        finite = torch.isfinite(fx.reshape(fx.shape[0], -1)).all(1).tolist()
        self._out = {row: (fx[i], residuals[i]) for i, row in enumerate(self._rows)}
        self.k += 1
        # Converged, stopped or diverged rows end in the engine: freeze them, so they are not updated any more.
        flags = getattr(self._iterator, "stopped", None)
        stopped = [False] * len(self._rows) if flags is None else flags.tolist()
        self.stopped.update((row, self.k) for row, flag in zip(self._rows, stopped) if flag and row not in self.stopped)
        keep = [i for i, (row, ri, ok, gone) in enumerate(zip(self._rows, residuals, finite, stopped))
                if ok and math.isfinite(ri) and ri > self.tols[row] and not gone]
        share = len(self._rows)
        if len(keep) < len(self._rows):
            self._rows = [self._rows[i] for i in keep]
            if keep:
                self._iterator.select(torch.tensor(keep, device=fx.device))
                self._iterator.f = self._map()
        self._share = (time.perf_counter() - t0) / share


def _stacked(values: list[float | None], ys: torch.Tensor) -> float | torch.Tensor | None:
    """One value for all (a noise level, a data-step weight: as given alone), or per measurement an (N,) tensor."""
    if all(v is None for v in values):
        return None
    if all(v == values[0] for v in values):
        return values[0]
    if any(v is None for v in values):
        raise JobError("Measurements with and without a noise level cannot be solved together.")
    return torch.tensor(values, dtype=ys.dtype, device=ys.device)


class BatchMember:
    """One measurement's view of an :class:`EquilibriumBatch`, a solver like the one it replaces."""

    def __init__(self, batch: EquilibriumBatch, row: int, notes: Sequence[str] = ()) -> None:
        self._batch, self._row = batch, row
        self.notes = list(notes)  # the measurement's own solver's (its noise, its data step)
        self.max_iter = batch.max_iter
        self.residual = float("inf")
        self.step_seconds = 0.0  # this measurement's share of the last batched step
        self._k = 0

    def step(self) -> tuple[torch.Tensor, float]:
        self._k += 1
        fx, self.residual, self.step_seconds = self._batch.advance(self._row, self._k)
        return fx, self.residual

    @property
    def tol(self) -> float:
        """The tolerance this measurement is solved to (its own solver's)."""
        return self._batch.tols[self._row]

    def converged(self) -> bool:
        return self.residual <= self.tol

    def stopped(self) -> bool:
        return self._row in self._batch.stopped

    @property
    def safeguards(self) -> list[Any]:
        """The stall safeguard's actions on the batch up to this measurement's iteration: its fallbacks
        apply to every measurement still in the batch, a stop to the measurements it stopped."""
        own_stop = self._batch.stopped.get(self._row)
        return [a for a in getattr(self._batch._iterator, "actions", [])
                if a.k <= self._k and (a.action != "stop" or a.k == own_stop)]


def join_equilibrium_solvers(solvers: list[Any]) -> list[Any]:
    """Join built :class:`~.deq.DeGapSolver` objects (DE-GAP or DE-RNN) into batched solves: one per
    model (DE-GAP's ``auto`` may choose a different one for each measurement), in the given order."""
    groups: dict[int, list[int]] = {}
    for i, solver in enumerate(solvers):
        groups.setdefault(id(solver.net), []).append(i)
    joined: list[Any] = [None] * len(solvers)
    for rows in groups.values():
        batch = EquilibriumBatch([solvers[i] for i in rows])
        for row, i in enumerate(rows):
            joined[i] = BatchMember(batch, row, getattr(solvers[i], "notes", ()))
    return joined
