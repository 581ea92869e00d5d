"""DE-RNN: deep-equilibrium recurrent reconstruction. Solve ``x* = RNN(x*, y, Phi)``.

The iteration is a trained :class:`sci_viewer.models.rnn.DERNN` (a forward-then-backward
recurrent network over the frames, conditioned on the measurement and the mask, spectrally
normalised). Its fixed point is found by the same Anderson / plain iteration as DE-GAP, from the
same start (``x0 = A^T(y / Phi_sum)``, or GAP-TV after ``gap_tv_start`` iterations), stopping on
the relative residual ``||f(x)-x|| / ||f(x)|| <= tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sci_viewer.algorithms.base import AlgorithmSpec, register_algorithm
from sci_viewer.algorithms.deq import DeGapSolver, EquilibriumSettings
from sci_viewer.algorithms.deq_batch import join_equilibrium_solvers
from sci_viewer.models import DEFAULT_RNN_MODEL, RECURRENT, recurrent_model_names


@dataclass
class DeRnnSettings(EquilibriumSettings):
    """DE-GAP's solver settings (:class:`EquilibriumSettings`) with a recurrent model, ``clip`` off."""

    model: str = field(default=DEFAULT_RNN_MODEL, metadata={"help": "trained DE-RNN model: name or .pt file",
                                                           "suggestions": recurrent_model_names})
    # Off by default, unlike DE-GAP: measured on the benchmark, clipping moves the iterate at tol far from
    # the clipped fixed point (drop40: -0.62 dB from tol 1e-4 to K=300, against -0.12 dB unclipped).
    clip: bool = field(default=False, metadata={
        "help": "keep every iterate in [0, 1], the frames' range (off: the unconstrained fixed point)"})


class DeRnnSolver(DeGapSolver):
    """One measurement's DE-RNN solve, one RNN iteration per :meth:`step`."""

    label = "DE-RNN"
    model_kind = RECURRENT
    auto_model = False  # one recurrent model: 'auto' is not a DE-RNN model


SPEC = register_algorithm(
    AlgorithmSpec(
        name="de-rnn",
        label="DE-RNN",
        settings_type=DeRnnSettings,
        make_solver=DeRnnSolver,
        join_solvers=join_equilibrium_solvers,
        description="Deep-equilibrium recurrent network: a forward+backward recurrent network over the frames, "
                    "conditioned on the measurement and mask, iterated to its fixed point by Anderson acceleration.",
    )
)
