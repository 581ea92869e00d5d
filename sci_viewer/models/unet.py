"""A small multi-scale residual U-Net over each frame, with temporal shifts between frames.

Frames are folded into the batch (so any B works); a zero-FLOP temporal shift mixes features of
neighbouring frames in every block. Three scales (full, 1/2, 1/4 resolution) give a receptive
field of about 60 px at a cost of a few thousand MACs per pixel. The network returns the denoised
estimate ``x + body(x)`` (``residual = True`` documents that the body predicts a correction).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sci_viewer.models._common import fold, pad_to_multiple, sigma_tensor, temporal_shift, unfold


class ShiftBlock(nn.Module):
    """Residual block: temporal shift -> conv3x3 -> ReLU -> conv3x3, added to the input."""

    def __init__(self, ch: int, shift: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.shift = shift

    def forward(self, f: torch.Tensor, n: int, b: int) -> torch.Tensor:
        g = temporal_shift(f, n, b) if self.shift else f
        # In place: the elementwise passes are memory-bound on CPUs; fresh tensors cost time.
        return self.conv2(F.relu_(self.conv1(g))).add_(f)


class UNet(nn.Module):
    """Residual U-Net denoiser: ``net(x, sigma=None)`` with ``x`` (N, B, H, W) on [0, 1].

    Args:
        ch: channels at the first scale (doubled at each of the two lower scales).
        unshuffle: space-to-depth factor applied first (2: the first scale is 1/2 resolution,
            which keeps the cost per pixel low on CPUs; 1: plain full-resolution U-Net).
        blocks: residual blocks per scale (encoder and decoder each).
        mid_blocks: residual blocks at the lowest scale (default: ``blocks``; cheap at 1/4 size).
        temporal: use temporal shifts (mixing neighbouring frames).
        noise_input: feed the noise level as a second input channel (FFDNet-style conditioning).
        mask_input: also feed each frame's share of GAP's correction (``weights``, see
            :meth:`sci_viewer.physics.Cacti.frame_weights`): where the mask exposed that frame, the
            projection's error is concentrated, which the network otherwise has to guess from texture.
        default_sigma: the noise level assumed when ``sigma`` is None and ``noise_input`` is set.
    """

    residual = True

    def __init__(
        self, ch: int = 16, blocks: int = 1, temporal: bool = True, noise_input: bool = False,
        default_sigma: float = 10 / 255, unshuffle: int = 2,
        mid_blocks: int | None = None, mask_input: bool = False,
    ) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        u2 = unshuffle * unshuffle
        self.noise_input = noise_input
        self.uses_mask = mask_input
        self.default_sigma = default_sigma
        c1, c2, c3 = ch, 2 * ch, 4 * ch
        # input channels: the frame, then the noise level, then the frame's weights
        self.head = nn.Conv2d(u2 + (1 if noise_input else 0) + (u2 if mask_input else 0), c1, 3, padding=1)
        self.enc1 = nn.ModuleList(ShiftBlock(c1, temporal) for _ in range(blocks))
        self.down1 = nn.Conv2d(c1, c2, 2, stride=2)
        self.enc2 = nn.ModuleList(ShiftBlock(c2, temporal) for _ in range(blocks))
        self.down2 = nn.Conv2d(c2, c3, 2, stride=2)
        self.mid = nn.ModuleList(ShiftBlock(c3, temporal) for _ in range(blocks if mid_blocks is None else mid_blocks))
        self.up2 = nn.ConvTranspose2d(c3, c2, 2, stride=2)
        self.dec2 = nn.ModuleList(ShiftBlock(c2, temporal) for _ in range(blocks))
        self.up1 = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.dec1 = nn.ModuleList(ShiftBlock(c1, temporal) for _ in range(blocks))
        self.tail = nn.Conv2d(c1, u2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def grow_from(self, state: dict[str, torch.Tensor]) -> None:
        """Load a smaller U-Net's weights (same ``ch``; fewer blocks, or no mask input): its tensors must
        all be here with the same shapes, except the head, which may gain input channels. The extra
        residual blocks get a zero last conv and the head's new inputs zero weights, so the grown net
        computes what the small one did."""
        own = self.state_dict()
        state = dict(state)
        for name, tensor in state.items():
            if name not in own:
                raise ValueError(f"it has {name}, which is not here")
            if name == "head.weight" and _grows_inputs(tensor, own[name]):
                grown = torch.zeros_like(own[name])
                grown[:, : tensor.shape[1]] = tensor
                state[name] = grown
            elif own[name].shape != tensor.shape:
                raise ValueError(f"{name} is {tuple(tensor.shape)} there, {tuple(own[name].shape)} here")
        new_blocks = {name.rsplit(".conv2.", 1)[0] for name in own if ".conv2." in name and name not in state}
        with torch.no_grad():
            for block in new_blocks:
                conv2 = self.get_submodule(block).conv2
                nn.init.zeros_(conv2.weight)
                nn.init.zeros_(conv2.bias)
        self.load_state_dict(state, strict=False)

    def _weight_channels(self, weights: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """The frame weights (B, H, W) or (N, B, H, W), folded, padded and unshuffled like the frames."""
        if weights is None:
            raise ValueError("this denoiser is mask-aware: call it with weights=op.frame_weights() "
                             "(sci_viewer.models.denoise does)")
        if weights.shape[-3:] != x.shape[-3:]:
            raise ValueError(f"weights {tuple(weights.shape)} do not match the video {tuple(x.shape)}")
        wz, _, _ = fold(weights.to(x.dtype).expand_as(x).reshape(x.shape))
        wp, _ = pad_to_multiple(wz, 4 * self.unshuffle)
        return F.pixel_unshuffle(wp, self.unshuffle) if self.unshuffle > 1 else wp

    @staticmethod
    def _run(blocks: nn.ModuleList, f: torch.Tensor, n: int, b: int) -> torch.Tensor:
        for blk in blocks:
            f = blk(f, n, b)
        return f

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        z, n, b = fold(x)
        zp, (h, w) = pad_to_multiple(z, 4 * self.unshuffle)
        inp = F.pixel_unshuffle(zp, self.unshuffle) if self.unshuffle > 1 else zp
        if self.noise_input:
            s = sigma_tensor(sigma, n, zp, self.default_sigma).repeat_interleave(b)
            inp = torch.cat([inp, s.view(-1, 1, 1, 1).expand(-1, 1, *inp.shape[-2:])], 1)
        if self.uses_mask:
            inp = torch.cat([inp, self._weight_channels(weights, x)], 1)
        inp = inp.contiguous(memory_format=torch.channels_last)
        f1 = self._run(self.enc1, F.relu_(self.head(inp)), n, b)
        f2 = self._run(self.enc2, F.relu_(self.down1(f1)), n, b)
        f3 = self._run(self.mid, F.relu_(self.down2(f2)), n, b)
        g2 = self._run(self.dec2, F.relu_(self.up2(f3)) + f2, n, b)
        g1 = self._run(self.dec1, F.relu_(self.up1(g2)) + f1, n, b)
        corr = self.tail(g1)
        if self.unshuffle > 1:
            corr = F.pixel_shuffle(corr, self.unshuffle)
        out = zp + corr.contiguous()
        return unfold(out[..., :h, :w], n, b)


def _grows_inputs(small: torch.Tensor, big: torch.Tensor) -> bool:
    """Whether conv weight ``big`` is ``small`` with more input channels (dim 1)."""
    return (small.ndim == big.ndim == 4 and small.shape[1] < big.shape[1]
            and small.shape[:1] + small.shape[2:] == big.shape[:1] + big.shape[2:])
