"""PGD, exhaustive search and the certified bound, checked against the closed form of the
linear inner maximum (|r| + ε‖θ‖_*)² and against each other (PGD ≤ exhaustive ≤ upper)."""
import math

import pytest
import torch

from advexplore.attacks import squared_loss, surrogate_attack
from advexplore.bounds import (certified_max_loss, exhaustive_attack_2d, exhaustive_max_loss,
                               lipschitz_upper_bound)
from advexplore.models import MLP, TwoLayerNet, linear_model
from advexplore.pgd import pgd_attack


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def fixed_linear(theta):
    model = linear_model(len(theta))
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.as_tensor(theta, dtype=torch.float32)[None])
    return model


def closed_form(theta, x, y, eps, norm):
    theta = torch.as_tensor(theta, dtype=torch.float32)
    dual = theta.norm() if norm == "l2" else theta.abs().sum()
    return ((x @ theta - y).abs() + eps * dual) ** 2


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_reaches_linear_inner_maximum(norm):
    theta = [0.7, -1.2, 0.3, 2.0, 0.0]
    x, y = torch.randn(300, 5, generator=gen(1)), torch.randn(300, generator=gen(2))
    model = fixed_linear(theta)
    delta = pgd_attack(model, x, y, 0.4, norm=norm, steps=5, random_start=False)
    torch.testing.assert_close(squared_loss(model(x + delta), y).detach(),
                               closed_form(theta, x, y, 0.4, norm), rtol=1e-5, atol=1e-5)
    # random starts only: restarts fix the samples whose start fell on the wrong side; on the
    # sphere a fixed L2 step only slowly turns δ towards θ, so allow 1 % on the mean
    delta = pgd_attack(model, x, y, 0.4, norm=norm, steps=30, restarts=8, generator=gen(3))
    attacked = squared_loss(model(x + delta), y).detach()
    assert (attacked <= closed_form(theta, x, y, 0.4, norm) * (1 + 1e-5)).all()
    assert attacked.mean() > 0.99 * closed_form(theta, x, y, 0.4, norm).mean()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_with_xi_is_the_surrogate_attack_on_a_linear_model(norm):
    model = fixed_linear([1.0, -0.5, 0.25])
    x, y = torch.randn(50, 3, generator=gen(4)), torch.randn(50, generator=gen(5))
    expected = surrogate_attack(model, x, y, 0.5, xi=0.7, norm=norm)
    got = pgd_attack(model, x, y, 0.5, norm=norm, steps=6, xi=0.7, random_start=False)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_pgd_contract_mode_grad_input_ball_and_clip():
    torch.manual_seed(0)
    net = MLP(4, 16, 2).train()
    x, y = torch.rand(20, 4), torch.randn(20)
    x_copy = x.clone()
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    eps = torch.linspace(0.0, 0.5, 20)  # per-sample radii
    delta = pgd_attack(net, x, y, eps, steps=5, restarts=2, clip=(0.0, 1.0), generator=gen())
    assert net.training and all(torch.equal(p.grad, torch.ones_like(p)) for p in net.parameters())
    assert torch.equal(x, x_copy) and delta.shape == x.shape and not delta.requires_grad
    assert (delta.norm(dim=1) <= eps + 1e-6).all()
    assert ((x + delta) >= 0).all() and ((x + delta) <= 1).all()
    delta_inf = pgd_attack(net.eval(), x, y, 0.1, norm="linf", steps=3)
    assert delta_inf.abs().max() <= 0.1 + 1e-7 and not net.training


def test_more_restarts_never_lower_the_loss():
    torch.manual_seed(1)
    net = MLP(2, 32, 2, activation="tanh")
    x, y = torch.randn(100, 2), torch.randn(100)
    one = squared_loss(net(x + pgd_attack(net, x, y, 0.8, restarts=1, generator=gen(7))), y)
    five = squared_loss(net(x + pgd_attack(net, x, y, 0.8, restarts=5, generator=gen(7))), y)
    assert (five >= one - 1e-6).all()


def test_pgd_on_images_under_autocast():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
    x, y = torch.rand(6, 3, 8, 8), torch.randint(0, 10, (6,))
    ce = lambda out, t: torch.nn.functional.cross_entropy(out.float(), t, reduction="none")  # noqa: E731
    with torch.autocast("cpu", dtype=torch.bfloat16):
        delta = pgd_attack(net, x, y, 8 / 255, norm="linf", loss=ce, clip=(0, 1), generator=gen())
    assert delta.shape == x.shape and delta.dtype == x.dtype
    assert delta.abs().max() <= 8 / 255 + 1e-6


def _grid_tolerance(model, x, y, eps, norm, shells, points):
    """|loss(δ) − loss(δ')| ≤ 2(|r| + ε·Lip)·Lip·‖δ − δ'‖ and every δ in the ball lies within
    h = ε/(2·shells) + ρ·π/points (radial + angular gap; ×√2 for the L∞ square) of a grid point."""
    lip = lipschitz_upper_bound(model, norm).item()
    with torch.no_grad():
        r = (model(x) - y).abs()
    h = eps / (2 * shells) + eps * math.pi / points * (math.sqrt(2) if norm == "linf" else 1) * 2
    return 2 * (r + eps * lip) * lip * h


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_le_exhaustive_le_certified_upper_bound(norm):
    torch.manual_seed(2)
    net = TwoLayerNet(2, 64, activation="relu", delta=0.0, a="random", generator=gen(8))
    with torch.no_grad():
        net.theta.mul_(30.0)  # a visibly nonlinear net
    x, y = torch.randn(60, 2, generator=gen(9)), torch.randn(60, generator=gen(10))
    eps_grid = torch.tensor([0.2, 0.5, 1.0])
    shells, points = 8, 72
    exhaustive, best_delta = exhaustive_max_loss(net, x, y, eps_grid, norm, shells, points)
    upper = certified_max_loss(net, x, y, eps_grid, norm)
    for k, eps in enumerate(eps_grid.tolist()):
        # the returned δ lies in the ball and attains the reported loss
        size = best_delta[k].norm(dim=1) if norm == "l2" else best_delta[k].abs().amax(dim=1)
        assert (size <= eps + 1e-6).all()
        torch.testing.assert_close(squared_loss(net(x + best_delta[k]), y).detach(), exhaustive[k])
        pgd = squared_loss(net(x + pgd_attack(net, x, y, eps, norm=norm, steps=20, restarts=3,
                                              generator=gen(k))), y).detach()
        tol = _grid_tolerance(net, x, y, eps, norm, shells, points)
        assert (exhaustive[k] + tol >= pgd).all()
        assert (upper[k] >= exhaustive[k] - 1e-5).all()
    assert (upper[-1] > exhaustive[-1]).any()  # the bound is not tight for a ReLU net


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_exhaustive_search_finds_the_linear_maximum(norm):
    theta = [0.8, -0.6]
    model = fixed_linear(theta)
    x, y = torch.randn(40, 2, generator=gen(11)), torch.randn(40, generator=gen(12))
    # the maximiser ±ε θ/‖θ‖ (L2) or ±ε sign(θ) (L∞, a corner) lies on the grid's boundary shell
    delta = exhaustive_attack_2d(model, x, y, 0.5, norm=norm, points_per_shell=360)
    got = squared_loss(model(x + delta), y).detach()
    exact = closed_form(theta, x, y, 0.5, norm)
    assert (got <= exact + 1e-5).all()
    torch.testing.assert_close(got, exact, rtol=2e-4, atol=1e-4)
    torch.testing.assert_close(certified_max_loss(model, x, y, 0.5, norm), exact)


def test_exhaustive_one_dimensional_and_bad_input():
    model = fixed_linear([2.0])
    x, y = torch.randn(10, 1, generator=gen(13)), torch.zeros(10)
    best, _ = exhaustive_max_loss(model, x, y, [0.0, 0.3])
    torch.testing.assert_close(best[1], (2 * x[:, 0].abs() + 0.6) ** 2)
    torch.testing.assert_close(best[0], (2 * x[:, 0]) ** 2)
    with pytest.raises(ValueError, match="d ≤ 2"):
        exhaustive_max_loss(fixed_linear([1.0, 1.0, 1.0]), torch.randn(4, 3), torch.zeros(4), 0.1)
    with pytest.raises(ValueError, match="non-decreasing"):
        exhaustive_max_loss(model, x, y, [0.3, 0.1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(norm="l1"), ValueError, "norm"), (dict(steps=0), ValueError, "steps"),
    (dict(restarts=0), ValueError, "restarts"), (dict(xi=-1.0), ValueError, "xi"),
    (dict(eps=-0.1), ValueError, "eps")])
def test_pgd_rejects_bad_arguments(kwargs, error, match):
    model = fixed_linear([1.0, 1.0])
    args = dict(eps=0.1) | kwargs
    with pytest.raises(error, match=match):
        pgd_attack(model, torch.randn(3, 2), torch.zeros(3), **args)


def test_lipschitz_upper_bound_rejects_unknown_models():
    with pytest.raises(TypeError, match="Lipschitz"):
        lipschitz_upper_bound(torch.nn.Sequential(torch.nn.Linear(2, 1)))


def test_random_ball_point_is_uniform_in_the_ball():
    """Uniform in the L2 ball of R^D: P(‖δ‖ ≤ rε) = r^D, and directions are isotropic (mean 0).
    L∞: every coordinate is U(−ε, ε) (mean 0, variance ε²/3)."""
    from advexplore.pgd import random_ball_point

    g = torch.Generator().manual_seed(0)
    eps, D, n = torch.tensor(0.7, dtype=torch.float64), 3, 40_000
    x = torch.zeros(n, D, dtype=torch.float64)
    d = random_ball_point(x, eps, "l2", g)
    radius = d.norm(dim=1) / eps
    assert radius.max() <= 1 + 1e-12
    for r in (0.3, 0.6, 0.9):  # binomial standard error ≤ 0.0025
        assert abs((radius <= r).double().mean().item() - r ** D) < 0.01
    assert d.mean(0).abs().max() < 0.01
    u = random_ball_point(x, eps, "linf", g)
    assert u.abs().max() <= eps and u.mean().abs() < 0.01
    assert abs(u.var().item() - eps.item() ** 2 / 3) < 0.01


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_project_to_ball_is_the_nearest_point_of_the_ball(norm):
    """Against brute force: no point of a dense sample of the 2-D ball is nearer than Π_ε(δ)."""
    from advexplore.pgd import project_to_ball

    eps = torch.tensor(0.5, dtype=torch.float64)
    grid = torch.linspace(-0.5, 0.5, 201, dtype=torch.float64)
    pts = torch.cartesian_prod(grid, grid)
    inside = pts[pts.norm(dim=1) <= 0.5] if norm == "l2" else pts
    delta = torch.tensor([[0.9, -0.2], [0.1, 0.2], [-1.0, -3.0]], dtype=torch.float64)
    proj = project_to_ball(delta, eps, norm)
    for i in range(len(delta)):
        best = (inside - delta[i]).norm(dim=1).min()
        assert (proj[i] - delta[i]).norm() <= best + 1e-12
        size = proj[i].norm() if norm == "l2" else proj[i].abs().max()
        assert size <= 0.5 + 1e-12
