"""DE-RNN: a forward-then-backward recurrent network over the frames, iterated to its fixed point.

One iteration maps the estimate ``x_k`` to ``x_{k+1} = RNN(x_k, y, Phi)``. The network sees, for
every frame t, the estimate ``x_t``, its GAP projection onto ``{x : A x = y}`` (which carries the
measurement) and the mask ``Phi_t``:

1. a per-frame encoder (all frames at once) after a space-to-depth by ``unshuffle``;
2. a forward recurrence ``h_t = e_t + cell_f(e_t, h_{t-1})`` over t = 1..B;
3. a backward recurrence ``g_t = h_t + cell_b(h_t, g_{t+1})`` over t = B..1;
4. a per-frame head whose output corrects the projected estimate: ``x_{k+1} = P_y(x_k) + head(g)``.

Every convolution of the recurrent body is spectrally normalised (``spectral=True``): each has
gain at most 1 (in the norm of its reshaped weight matrix), so the learned correction has a
bounded Lipschitz constant however long the iteration runs -- the safeguard against the blow-up an
unconstrained recurrent map can have. That bounds the map; it does not by itself make it a
contraction (the projection is the identity on the null space of A). That the fixed point is
reached is trained for (the DEQ stage solves it and penalises the residual) and measured
(``sci-viewer bench de-rnn`` prints iterations to tol and the PSNR change from tol to K=300).
Any B (the recurrence runs over however many frames there are) and any frame size.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from sci_viewer.models._common import pad_to_multiple


def _conv(cin: int, cout: int, spectral: bool) -> nn.Module:
    conv = nn.Conv2d(cin, cout, 3, padding=1)
    return spectral_norm(conv) if spectral else conv


class RecurrentCell(nn.Module):
    """``state_t = skip_t + conv(relu(conv([inp_t, state_prev])))``."""

    def __init__(self, ch: int, spectral: bool) -> None:
        super().__init__()
        self.conv1 = _conv(2 * ch, ch, spectral)
        self.conv2 = _conv(ch, ch, spectral)

    def forward(self, inp: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu_(self.conv1(torch.cat([inp, prev], 1)))).add_(inp)


class DERNN(nn.Module):
    """The DE-RNN iteration: ``net.iterate(x, op, y)`` -> next estimate (N, B, H, W).

    ``op`` is a CACTI operator (``mask``, ``project``); ``x`` (N, B, H, W) on [0, 1], ``y`` (N, H, W).

    Args:
        ch: feature channels of the recurrent state.
        unshuffle: space-to-depth factor (2: the recurrence runs at half resolution, 4x cheaper).
        spectral: spectral normalisation on every convolution of the body (bounds its Lipschitz constant).
    """

    kind = "recurrent"
    residual = True

    def __init__(self, ch: int = 32, unshuffle: int = 2, spectral: bool = True) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        u2 = unshuffle * unshuffle
        self.encode = _conv(3 * u2, ch, spectral)
        self.forward_cell = RecurrentCell(ch, spectral)
        self.backward_cell = RecurrentCell(ch, spectral)
        self.head = nn.Conv2d(ch, u2, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def iterate(self, x: torch.Tensor, op, y: torch.Tensor,  # noqa: ANN001 (Cacti or BatchCacti)
                rho: float | torch.Tensor = 0.0) -> torch.Tensor:
        """One DE-RNN iteration from the estimate ``x`` given the measurement ``y`` (``rho``: the relaxed
        data step of a noisy measurement, :meth:`sci_viewer.physics.Cacti.project`)."""
        projected = op.project(x, y, rho)
        return self(x, projected, op.mask.expand_as(x))

    def forward(self, x: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``projected + correction(x, projected, mask)``, all (N, B, H, W)."""
        # The normalised weights are computed once per call, not once per frame of the recurrence.
        with parametrize.cached():
            return self._forward(x, projected, mask)

    def _forward(self, x: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"DE-RNN takes a (N, B, H, W) video, got shape {tuple(x.shape)}")
        n, b, h, w = x.shape
        u = self.unshuffle
        stacked = torch.stack([x, projected, mask.to(x.dtype)], 2).reshape(n * b, 3, h, w)
        stacked, _ = pad_to_multiple(stacked, u)
        inp = F.pixel_unshuffle(stacked, u) if u > 1 else stacked
        e = F.relu_(self.encode(inp))
        e = e.reshape(n, b, *e.shape[1:])
        state = torch.zeros_like(e[:, 0])
        forward_states = []
        for t in range(b):
            state = self.forward_cell(e[:, t], state)
            forward_states.append(state)
        state = torch.zeros_like(state)
        backward_states: list[torch.Tensor] = [state] * b
        for t in reversed(range(b)):
            state = self.backward_cell(forward_states[t], state)
            backward_states[t] = state
        g = torch.stack(backward_states, 1).reshape(n * b, *state.shape[1:])
        corr = self.head(F.relu_(g))
        if u > 1:
            corr = F.pixel_shuffle(corr, u)
        corr = corr[..., :h, :w].reshape(n, b, h, w)
        return projected + corr
