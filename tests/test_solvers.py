"""Fixed-point solvers: Anderson vs plain iteration, stopping rules, implicit gradients."""

from __future__ import annotations

import pytest
import torch

from sci_viewer.solvers import (
    AndersonIterator,
    AndersonSettings,
    DEQConfig,
    DEQFixedPoint,
    FixedPointIterator,
    anderson,
    fixed_point_iteration,
    relative_residual,
)

DT = torch.float64


def _linear_problem(n: int = 3, d: int = 40, seed: int = 0):
    """``f(x) = W x + b`` with symmetric W, eigenvalues in [-0.5, 0.95]: slow for plain iteration."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, d, dtype=DT, generator=g))
    eig = torch.linspace(-0.5, 0.95, d, dtype=DT)
    w = q @ torch.diag_embed(eig.expand(n, d)) @ q.transpose(1, 2)
    b = torch.randn(n, d, dtype=DT, generator=g)
    x_star = torch.linalg.solve(torch.eye(d, dtype=DT) - w, b)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.bmm(w, x.unsqueeze(-1)).squeeze(-1) + b

    return f, b, x_star


def test_anderson_and_plain_reach_the_known_fixed_point_anderson_faster():
    f, b, x_star = _linear_problem()
    x0 = torch.zeros_like(b)
    xa, ia = anderson(f, x0, m=5, tol=1e-8, max_iter=1000)
    xp, ip = fixed_point_iteration(f, x0, tol=1e-8, max_iter=1000)
    assert ia.converged and ip.converged
    rel = lambda x: float((x - x_star).norm() / x_star.norm())  # noqa: E731
    assert rel(xa) < 1e-6 and rel(xp) < 1e-6
    assert ia.iterations * 2 < ip.iterations, (ia.iterations, ip.iterations)
    assert ia.fallbacks == 0


def test_tol_is_honoured_and_iterations_grow_as_tol_shrinks():
    f, b, _ = _linear_problem()
    counts = []
    for tol in (1e-3, 1e-6, 1e-9):
        _, info = anderson(f, torch.zeros_like(b), tol=tol, max_iter=1000)
        assert info.converged
        assert bool((info.final_residual <= tol).all())
        # it did not stop earlier than needed: the step before had some residual above tol
        assert bool((info.residuals[-2] > tol).any())
        counts.append(info.iterations)
    assert counts[0] < counts[1] < counts[2]


def test_max_iter_is_honoured():
    f, b, _ = _linear_problem()
    calls = []

    def counted(x):
        calls.append(1)
        return f(x)

    _, info = anderson(counted, torch.zeros_like(b), tol=0.0, max_iter=7)
    assert info.iterations == 7 and len(calls) == 7 and not info.converged
    assert info.residuals.shape == (7, 3)
    _, info = fixed_point_iteration(f, torch.zeros_like(b), tol=0.0, max_iter=4)
    assert info.iterations == 4 and not info.converged


def test_residual_is_relative_and_per_sample():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fx = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    assert torch.allclose(relative_residual(fx, x), torch.tensor([0.5, 0.0]))


def test_step_iterators_return_f_of_the_iterate_and_its_residual():
    f, b, _ = _linear_problem()
    x0 = torch.zeros_like(b)
    it = FixedPointIterator(f, x0)
    fx, r = it.step()
    assert torch.allclose(fx, b) and torch.allclose(r, torch.ones(3, dtype=DT))
    ait = AndersonIterator(f, x0, AndersonSettings(history=3))
    fx, r = ait.step()
    assert torch.allclose(fx, b)  # first step is f(x0)
    for _ in range(5):
        fx, r = ait.step()
    assert ait.iterations == 6 and r.shape == (3,)


def test_callback_sees_each_step_and_can_stop():
    f, b, _ = _linear_problem()
    seen = []
    _, info = anderson(f, torch.zeros_like(b), tol=0.0, max_iter=50,
                       callback=lambda k, x, r: seen.append(k) or k == 3)
    assert seen == [1, 2, 3] and info.iterations == 3


def test_anderson_falls_back_to_a_plain_step_on_a_singular_solve():
    # f(x) = x + c: every residual vector is c, the Gram matrix has rank 1 (singular with lam=0).
    c = torch.ones(2, 5, dtype=DT)
    x, info = anderson(lambda x: x + c, torch.zeros_like(c), lam=0.0, tol=-1.0, max_iter=6)
    assert info.fallbacks > 0 and bool(torch.isfinite(info.residuals).all())
    assert torch.allclose(x, 6 * c)  # exactly what plain iteration gives


def test_anderson_damping_and_float32():
    f, b, x_star = _linear_problem()
    f32 = lambda x: f(x.double()).float()  # noqa: E731
    x, info = anderson(f32, torch.zeros_like(b, dtype=torch.float32), beta=0.8, tol=1e-5, max_iter=300)
    assert info.converged and x.dtype == torch.float32
    assert float((x.double() - x_star).norm() / x_star.norm()) < 1e-3  # error <= residual / (1 - 0.95)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        AndersonSettings(history=0)
    with pytest.raises(ValueError):
        DEQConfig(backward="exact")


# --------------------------------------------------------------------------------------------
# Implicit differentiation through the fixed point


def _deq_problem(seed: int = 1, d: int = 6):
    g = torch.Generator().manual_seed(seed)
    w = (0.6 * torch.randn(d, d, dtype=DT, generator=g) / d**0.5).requires_grad_()
    b = torch.randn(d, dtype=DT, generator=g).requires_grad_()
    c = torch.randn(2, d, dtype=DT, generator=g)

    def f(z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ w.T + b)

    return w, b, c, f


def _loss(layer: DEQFixedPoint, f, c) -> torch.Tensor:
    z, _ = layer(f, torch.zeros_like(c))
    return (c * z).sum()


def test_implicit_gradient_matches_finite_differences():
    w, b, c, f = _deq_problem()
    layer = DEQFixedPoint(DEQConfig(tol=1e-12, max_iter=300, backward="implicit", backward_tol=1e-12,
                                    backward_max_iter=300))
    _loss(layer, f, c).backward()
    assert layer.backward_info is not None and layer.backward_info.converged
    eps = 1e-6
    for param in (w, b):
        flat = param.detach().view(-1)
        for i in (0, flat.numel() // 2, flat.numel() - 1):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + eps
                up = _loss(layer, f, c)
                flat[i] = old - eps
                down = _loss(layer, f, c)
                flat[i] = old
            fd = float(up - down) / (2 * eps)
            assert param.grad.view(-1)[i].item() == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_linear_map_gradients_implicit_exact_neumann_close_jfb_truncated():
    d = 5
    g = torch.Generator().manual_seed(3)
    w = 0.5 * torch.randn(d, d, dtype=DT, generator=g) / d**0.5
    b = torch.randn(d, dtype=DT, generator=g).requires_grad_()
    c = torch.randn(1, d, dtype=DT, generator=g)
    f = lambda z: z @ w.T + b  # noqa: E731
    eye = torch.eye(d, dtype=DT)
    analytic = torch.linalg.solve((eye - w).T, c[0])  # dL/db for L = c . (I - W)^-1 b
    grads = {}
    for mode in ("implicit", "neumann", "jfb"):
        b.grad = None
        cfg = DEQConfig(tol=1e-12, max_iter=200, backward=mode, neumann_terms=40, backward_tol=1e-12,
                        backward_max_iter=200)
        _loss(DEQFixedPoint(cfg), f, c).backward()
        grads[mode] = b.grad.clone()
    assert torch.allclose(grads["implicit"], analytic, atol=1e-9)
    assert torch.allclose(grads["neumann"], analytic, atol=1e-6)
    assert torch.allclose(grads["jfb"], c[0])  # J taken as 0: the gradient of one application


def _graph_size(t: torch.Tensor) -> int:
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions)
    return len(seen)


@pytest.mark.parametrize("mode", ["jfb", "neumann", "implicit"])
def test_graph_and_backward_memory_do_not_depend_on_forward_iterations(mode):
    w, b, c, f = _deq_problem()
    sizes, saved = [], []
    for iters in (3, 60):
        layer = DEQFixedPoint(DEQConfig(tol=0.0, max_iter=iters, backward=mode, backward_max_iter=10))
        packed: list[int] = []

        def pack(t: torch.Tensor) -> torch.Tensor:
            packed.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            z, info = layer(f, torch.zeros_like(c))
        assert info.iterations == iters
        sizes.append(_graph_size(z))
        saved.append(sum(packed))
        (c * z).sum().backward()
    assert sizes[0] == sizes[1]
    assert saved[0] == saved[1]


def test_no_graph_in_evaluation_mode():
    _, _, c, f = _deq_problem()
    with torch.no_grad():
        z, info = DEQFixedPoint(DEQConfig(tol=1e-8, max_iter=100))(f, torch.zeros_like(c))
    assert z.grad_fn is None and info.converged
