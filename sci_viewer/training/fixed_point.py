"""Fixed-point solve and DEQ gradients used by the trainer.

:func:`anderson` is a small batched Anderson acceleration (each sample has its own history
weights) used without gradients. :func:`phantom_output` and :func:`implicit_output` attach a
gradient to the fixed point: the first unrolls ``k`` damped steps from the (detached) fixed
point (``k=1``, damping 1: the Jacobian-free gradient); the second solves ``a = J_f(z*)^T a + g``
by fixed-point iteration in a backward hook (truncated Neumann series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Map = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class SolveInfo:
    iterations: int
    residual: float          # max over the batch of ||f(x)-x|| / ||f(x)|| at the end
    converged: bool


def _rel_residual(fx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    n = fx.shape[0]
    return (fx - x).reshape(n, -1).norm(dim=1) / fx.reshape(n, -1).norm(dim=1).clamp_min(1e-12)


@torch.no_grad()
def anderson(f: Map, x0: torch.Tensor, m: int = 5, beta: float = 1.0, lam: float = 1e-4,
             tol: float = 1e-3, max_iter: int = 30) -> tuple[torch.Tensor, SolveInfo]:
    """Anderson acceleration of ``x = f(x)`` for a batch (first dim); stops when every sample's
    relative residual is ``<= tol`` or after ``max_iter`` evaluations of ``f``."""
    n = x0.shape[0]
    shape = x0.shape
    X = torch.zeros(n, m, x0[0].numel(), dtype=x0.dtype, device=x0.device)
    F = torch.zeros_like(X)
    x = x0
    fx = f(x)
    res = _rel_residual(fx, x)
    X[:, 0], F[:, 0] = x.reshape(n, -1), fx.reshape(n, -1)
    if max_iter <= 1 or float(res.max()) <= tol:
        return fx, SolveInfo(1, float(res.max()), float(res.max()) <= tol)
    x = fx
    fx = f(x)
    X[:, 1], F[:, 1] = x.reshape(n, -1), fx.reshape(n, -1)
    k = 2
    while True:
        res = _rel_residual(fx, x)
        if float(res.max()) <= tol or k >= max_iter:
            return fx, SolveInfo(k, float(res.max()), float(res.max()) <= tol)
        mk = min(k, m)
        G = F[:, :mk] - X[:, :mk]                                   # (n, mk, D)
        H = torch.bmm(G, G.transpose(1, 2))                          # (n, mk, mk)
        H = H + lam * H.diagonal(dim1=1, dim2=2).mean(-1, keepdim=True).clamp_min(1e-12)[..., None] * torch.eye(
            mk, dtype=x0.dtype, device=x0.device)
        ones = torch.ones(n, mk, 1, dtype=x0.dtype, device=x0.device)
        alpha = torch.linalg.solve(H, ones)
        alpha = alpha / alpha.sum(1, keepdim=True)                   # (n, mk, 1)
        xa = (alpha.transpose(1, 2) @ F[:, :mk]) * beta
        if beta != 1.0:
            xa = xa + (1 - beta) * (alpha.transpose(1, 2) @ X[:, :mk])
        x = xa.reshape(shape)
        fx = f(x)
        X[:, k % m], F[:, k % m] = x.reshape(n, -1), fx.reshape(n, -1)
        k += 1


def phantom_output(f: Map, z_star: torch.Tensor, k: int = 1, damping: float = 1.0) -> torch.Tensor:
    """``k`` damped steps ``z <- (1-d) z + d f(z)`` from the detached fixed point, with gradient."""
    z = z_star.detach()
    for _ in range(max(1, k)):
        fz = f(z)
        z = fz if damping == 1.0 else (1 - damping) * z + damping * fz
    return z


class _AdjointSolve(torch.autograd.Function):
    """Identity in the forward pass; the backward pass replaces the incoming gradient ``g`` by the
    solution of ``a = J_f(z*)^T a + g`` (``iters`` fixed-point steps, vector-Jacobian products)."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, z_star: torch.Tensor, f: Map, iters: int) -> torch.Tensor:  # type: ignore[override]
        ctx.f, ctx.iters = f, iters
        ctx.save_for_backward(z_star)
        return out.view_as(out)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        (z_star,) = ctx.saved_tensors
        with torch.enable_grad():
            z0 = z_star.detach().requires_grad_()
            f0 = ctx.f(z0)
            a = g
            for _ in range(ctx.iters):
                (ja,) = torch.autograd.grad(f0, z0, a, retain_graph=True)
                a = ja + g
        return a, None, None, None


def implicit_output(f: Map, z_star: torch.Tensor, iters: int = 8) -> torch.Tensor:
    """``f(z*)`` whose backward solves ``a = J_f(z*)^T a + g`` by ``iters`` fixed-point steps.

    Memory does not grow with the forward iteration count: the backward re-evaluates ``f`` once
    at ``z*`` and only keeps that graph.
    """
    out = f(z_star.detach())
    return _AdjointSolve.apply(out, z_star.detach(), f, iters)
