"""What an algorithm is, and the registry the CLI, the app and plugins share.

An algorithm turns one measurement into a :class:`Solver`: an object whose :meth:`Solver.step`
advances one iteration. The engine drives solvers, so every algorithm gets events, cancelling,
metrics and fault handling for free.

To add one (see ``plugins/README.md``)::

    @dataclass
    class MySettings:
        iterations: int = field(default=50, metadata={"min": 1, "help": "..."})

    register_algorithm(AlgorithmSpec("my-algo", "My algorithm", MySettings, make_my_solver))
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch

from sci_viewer.errors import JobError
from sci_viewer.physics import Cacti
from sci_viewer.value_types import check_range, checked_value


class Solver(Protocol):
    """One measurement's iterative reconstruction."""

    max_iter: int

    def step(self) -> tuple[torch.Tensor, float]:
        """Advance one iteration; return the estimate (B, H, W) and the iteration's residual."""

    def converged(self) -> bool:
        """True once the solver's own stopping rule holds (fixed iteration counts: never)."""

    # Optional: ``stopped() -> bool``, True when the solver gave up short of its stopping rule (a
    # stalled solve with no fallback left); the engine ends the measurement there, not converged.


SolverFactory = Callable[[Cacti, torch.Tensor, Any, "torch.Tensor | None"], Solver]
#: ``join(solvers)``: solvers of several measurements of one capture (one mask, one settings) joined
#: into as many solvers that advance together as one batched solve, each equal to its unbatched self.
SolverJoin = Callable[[list[Solver]], list[Solver]]


@dataclass(frozen=True)
class AlgorithmSpec:
    """An algorithm as the front ends see it.

    ``make_solver(op, y, settings, x0)`` builds a solver for one measurement ``y`` (H, W) with the
    forward operator ``op``; ``x0`` (B, H, W) is a warm start (``None``: the algorithm's own).
    ``join_solvers`` (optional, :data:`SolverJoin`) lets the engine solve several measurements as
    one batch; a joined solver may set ``step_seconds``, its share of the batched step's time.
    """

    name: str
    label: str
    settings_type: type
    make_solver: SolverFactory
    description: str = ""
    join_solvers: SolverJoin | None = None

    @property
    def iteration_field(self) -> str | None:
        """The setting that caps the iterations: ``iterations`` (fixed count) or ``max_iter`` (a cap)."""
        fields = {f.name for f in dataclasses.fields(self.settings_type)}
        return next((name for name in ("iterations", "max_iter") if name in fields), None)

    def settings(self, **overrides: Any) -> Any:
        """Default settings with ``overrides`` (unknown names are refused with the valid ones)."""
        fields = {f.name for f in dataclasses.fields(self.settings_type)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise JobError(
                f"{self.label} has no setting {', '.join(unknown)}; its settings are {', '.join(sorted(fields))}."
            )
        hints = typing.get_type_hints(self.settings_type)
        checked = {name: checked_value(self.label, name, hints.get(name, Any), value)
                   for name, value in overrides.items()}
        for f in dataclasses.fields(self.settings_type):
            if f.name in checked:
                check_range(self.label, f.name, f.metadata, checked[f.name])
        return self.settings_type(**checked)


_REGISTRY: dict[str, AlgorithmSpec] = {}


def register_algorithm(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add (or replace) an algorithm under ``spec.name``."""
    _REGISTRY[spec.name] = spec
    return spec


def get_algorithm(name: str) -> AlgorithmSpec:
    from sci_viewer.algorithms import load_builtin

    load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise JobError(f"Unknown algorithm '{name}'; available: {', '.join(sorted(_REGISTRY))}.") from None


def algorithm_names() -> list[str]:
    from sci_viewer.algorithms import load_builtin

    load_builtin()
    return list(_REGISTRY)


def settings_to_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings)
