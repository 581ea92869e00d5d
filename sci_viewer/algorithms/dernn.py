"""DE-RNN: deep-equilibrium recurrent reconstruction. Solve ``x* = RNN(x*, y, Phi)``.

The iteration is a trained :class:`sci_viewer.models.rnn.DERNN` (a forward-then-backward
recurrent network over the frames, conditioned on the measurement and the mask, spectrally
normalised). Its fixed point is found by the same Anderson / plain iteration as DE-GAP, from
``x0 = A^T(y / Phi_sum)``, stopping on the relative residual ``||f(x)-x|| / ||f(x)|| <= tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sci_viewer.algorithms.base import AlgorithmSpec, register_algorithm
from sci_viewer.algorithms.deq import DeGapSolver
from sci_viewer.models import DEFAULT_RNN_MODEL, RECURRENT, recurrent_model_names


@dataclass
class DeRnnSettings:
    """As DE-GAP's: ``tol`` and ``max_iter`` stop the solve; ``anderson``, ``history``, ``beta``,
    ``lam`` set the solver; ``clip`` keeps the iterates in [0, 1] (off by default: see below)."""

    model: str = field(default=DEFAULT_RNN_MODEL, metadata={"help": "trained DE-RNN model: name or .pt file",
                                                           "suggestions": recurrent_model_names})
    tol: float = field(default=1e-4, metadata={"help": "stop when ||f(x)-x|| / ||f(x)|| <= tol"})
    max_iter: int = field(default=100, metadata={"help": "cap on evaluations of f"})
    anderson: bool = field(default=True, metadata={"help": "Anderson acceleration (off: plain iteration)"})
    history: int = field(default=5, metadata={"help": "Anderson history m"})
    beta: float = field(default=1.0, metadata={"help": "damping (1: none)"})
    lam: float = field(default=1e-4, metadata={"help": "relative regularisation of Anderson's least squares"})
    # Off by default, unlike DE-GAP: measured on the benchmark, clipping moves the iterate at tol far from
    # the clipped fixed point (drop40: -0.62 dB from tol 1e-4 to K=300, against -0.12 dB unclipped).
    clip: bool = field(default=False, metadata={
        "help": "keep every iterate in [0, 1], the frames' range (off: the unconstrained fixed point)"})


class DeRnnSolver(DeGapSolver):
    """One measurement's DE-RNN solve, one RNN iteration per :meth:`step`."""

    label = "DE-RNN"
    model_kind = RECURRENT


SPEC = register_algorithm(
    AlgorithmSpec(
        name="de-rnn",
        label="DE-RNN",
        settings_type=DeRnnSettings,
        make_solver=DeRnnSolver,
        description="Deep-equilibrium recurrent network: a forward+backward recurrent network over the frames, "
                    "conditioned on the measurement and mask, iterated to its fixed point by Anderson acceleration.",
    )
)
