"""Peak memory of one DE-GAP (or DE-RNN) training step vs the number of forward iterations (implicit backward).

One step = Anderson solve of ``z = D(P_y(z))`` without a graph for exactly N iterations (tol 0),
one differentiable application, the loss, the implicit backward (``a = J^T a + g`` by Anderson),
an Adam update. Peak memory is the allocator's: ``torch.cuda.max_memory_allocated`` on CUDA; on
the CPU, the running sum of the profiler's allocation/free events (``profile_memory=True``). The
target is peak(100) / peak(10) <= 1.1. For contrast, plain backpropagation through the unrolled
iterations is measured at a few small N: its memory grows with N.
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Callable

import torch
import torch.nn as nn

from sci_viewer.physics import Cacti
from sci_viewer.settings import resolve_device
from sci_viewer.solvers import DEQConfig, DEQFixedPoint

TARGET_RATIO = 1.1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="degap-default",
                   help="model name or .pt file to train from; if absent, a fresh --arch network")
    p.add_argument("--arch", default="unet", help="architecture when no model file exists")
    p.add_argument("--iters", default="10,100", help="forward iteration counts to compare")
    p.add_argument("--unrolled", default="5,10", help="iteration counts for unrolled backprop ('' to skip)")
    p.add_argument("--backward", default="implicit", choices=["implicit", "neumann", "jfb"])
    p.add_argument("--size", type=int, default=128, help="crop size (square)")
    p.add_argument("--frames", type=int, default=8, help="B")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")


def _network(args: argparse.Namespace, device: torch.device) -> nn.Module:
    from sci_viewer.errors import JobError
    from sci_viewer.models import build_denoiser, load_model

    try:
        net = load_model(args.model, device)
        print(f"network: {args.model} ({getattr(net, 'model_arch', '?')})")
    except JobError:
        net = build_denoiser(args.arch).to(device)
        print(f"network: fresh '{args.arch}' (no model '{args.model}')")
    return net.train()


def _peak_bytes(fn: Callable[[], None], device: torch.device) -> int:
    """Peak bytes allocated by ``fn`` above what was held when it started."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events()
                    if e.self_cpu_memory_usage)
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def _data(args: argparse.Namespace, device: torch.device) -> tuple[Cacti, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    b, s, n = args.frames, args.size, args.batch
    mask = (torch.rand(b, s, s, generator=g) < 0.5).float()
    # a smooth moving pattern as the training target
    yy, xx = torch.meshgrid(torch.linspace(0, 1, s), torch.linspace(0, 1, s), indexing="ij")
    truth = torch.stack([0.5 + 0.4 * torch.sin(6 * xx + 0.3 * t) * torch.cos(5 * yy) for t in range(b)])
    truth = truth.expand(n, b, s, s).contiguous()
    op = Cacti(mask.to(device))
    return op, op.A(truth.to(device)), truth.to(device)


def _step(net: nn.Module, op: Cacti, y: torch.Tensor, truth: torch.Tensor, iters: int, backward: str,
          unrolled: bool) -> None:
    from sci_viewer.models import equilibrium_map

    opt = torch.optim.Adam(net.parameters(), lr=1e-5)
    f = equilibrium_map(net, op, y)  # DE-GAP's map for a denoiser, DE-RNN's for a recurrent model

    x0 = op.initial(y)
    if unrolled:
        z = x0
        for _ in range(iters):
            z = f(z)
    else:
        layer = DEQFixedPoint(DEQConfig(tol=0.0, max_iter=iters, backward=backward, backward_tol=1e-4,
                                        backward_max_iter=20))
        z, info = layer(f, x0)
        assert info.iterations == iters
    loss = torch.mean((z - truth) ** 2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    base = _network(args, device)
    op, y, truth = _data(args, device)
    print(f"torch {torch.__version__}, device {device}, crop {args.batch}x{args.frames}x{args.size}x{args.size}, "
          f"backward {args.backward}")
    print(f"{'mode':10} {'N':>5} {'peak MiB':>10} {'seconds':>8}")
    peaks: dict[int, int] = {}
    runs = [(False, int(n)) for n in args.iters.split(",") if n]
    runs += [(True, int(n)) for n in args.unrolled.split(",") if n]
    # warm-up: lazy initialisation must not count in the first measured step
    _step(copy.deepcopy(base), op, y, truth, 2, args.backward, False)
    for unrolled, n in runs:
        net = copy.deepcopy(base)
        t0 = time.perf_counter()
        peak = _peak_bytes(lambda: _step(net, op, y, truth, n, args.backward, unrolled), device)
        secs = time.perf_counter() - t0
        if not unrolled:
            peaks[n] = peak
        label = "unrolled" if unrolled else args.backward
        print(f"{label:10} {n:5d} {peak / 2**20:10.1f} {secs:8.1f}", flush=True)
    if len(peaks) >= 2:
        lo, hi = min(peaks), max(peaks)
        ratio = peaks[hi] / peaks[lo]
        print(f"peak({hi}) / peak({lo}) = {ratio:.3f} (target <= {TARGET_RATIO}) "
              f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    return 0
