"""The exact inner maximum (MILP, region enumeration) against brute force — dense grids of the
disk / box and random search — and the bracket PGD ≤ exact ≤ LP ≤ CROWN ≤ IBP, exact ≤ weight
norm on every sample of random small ReLU nets; all equal for a linear model."""
import math

import pytest
import torch
from torch import nn

from advexplore import exact_max_loss
from advexplore.attacks import squared_loss
from advexplore.bounds import certified_max_loss
from advexplore.exact import lp_max_loss
from advexplore.models import MLP, TwoLayerNet, linear_model
from advexplore.pgd import pgd_attack

CASES = [(0, 3, 1), (1, 8, 1), (2, 16, 1), (3, 5, 2), (4, 12, 2), (5, 16, 2)]  # seed, width, depth


def random_net(seed, width, depth, d=2):
    torch.manual_seed(seed)
    net = MLP(d, width, depth).double()
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(2.0)  # kinks well inside the ball
    return net


def batch(seed, n=4, d=2):
    g = torch.Generator().manual_seed(100 + seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)


def dense_ball(eps, norm, d=2, steps=301):
    """Grid points of the ε-ball: the square's grid (L∞) or the disk's part of it plus 3600
    points of the circle (L2)."""
    axis = torch.linspace(-eps, eps, steps, dtype=torch.float64)
    grid = torch.cartesian_prod(*[axis] * d)
    if norm == "linf":
        return grid
    t = torch.arange(3600, dtype=torch.float64) * (2 * math.pi / 3600)
    circle = eps * torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    return torch.cat([grid[grid.norm(dim=1) <= eps], circle])


def brute_force(net, x, y, offsets):
    with torch.no_grad():
        return torch.stack([squared_loss(net(xi + offsets), yi.expand(len(offsets))).max()
                            for xi, yi in zip(x, y)])


def assert_attained(net, x, y, eps, norm, value, delta):
    size = delta.norm(dim=1) if norm == "l2" else delta.abs().amax(dim=1)
    assert (size <= eps * (1 + 1e-8)).all()
    with torch.no_grad():
        torch.testing.assert_close(squared_loss(net(x + delta), y), value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed,width,depth", CASES)
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_exact_2d_against_a_dense_grid(seed, width, depth, norm, one_thread):
    net, (x, y), eps = random_net(seed, width, depth), batch(seed), 0.3 + 0.1 * seed
    value, info = exact_max_loss(net, x, y, eps, norm, return_info=True)
    assert_attained(net, x, y, eps, norm, value, info["delta"])
    grid = brute_force(net, x, y, dense_ball(eps, norm))
    assert (grid <= value + 1e-10).all()  # no grid point beats the maximum ...
    assert ((value - grid) / value.clamp_min(1e-2)).max() < 5e-3  # ... and the grid comes close
    if norm == "linf":  # two independent exact methods agree
        milp, info = exact_max_loss(net, x, y, eps, norm, method="milp", return_info=True)
        torch.testing.assert_close(milp, value, rtol=1e-7, atol=1e-10)
        assert_attained(net, x, y, eps, norm, milp, info["delta"])


@pytest.mark.parametrize("seed,width,depth", [(6, 6, 1), (7, 10, 2)])
def test_milp_in_higher_dimension_against_random_search(seed, width, depth, one_thread):
    d, eps = 4, 0.5
    net, (x, y) = random_net(seed, width, depth, d), batch(seed, n=3, d=d)
    value, info = exact_max_loss(net, x, y, eps, "linf", return_info=True)
    assert_attained(net, x, y, eps, "linf", value, info["delta"])
    g = torch.Generator().manual_seed(seed)
    corners = torch.cartesian_prod(*[torch.tensor([-eps, eps], dtype=torch.float64)] * d)
    offsets = torch.cat([corners, eps * (2 * torch.rand(100_000, d, generator=g, dtype=torch.float64) - 1)])
    search = brute_force(net, x, y, offsets)
    assert (search <= value + 1e-10).all()
    assert (info["solves"] >= 1).all() and (info["solves"] <= 2).all() and (info["seconds"] > 0).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_one_dimensional_inputs(norm):
    net, (x, y) = random_net(8, 12, 2, d=1), batch(8, n=5, d=1)
    grid = brute_force(net, x, y, torch.linspace(-0.7, 0.7, 20001, dtype=torch.float64)[:, None])
    for method in ("milp", "regions"):
        value = exact_max_loss(net, x, y, 0.7, norm, method=method)
        assert (grid <= value + 1e-10).all() and ((value - grid) / value.clamp_min(1e-2)).max() < 1e-4


@pytest.mark.parametrize("seed,width,depth", CASES)
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_le_exact_le_every_certified_bound(seed, width, depth, norm, one_thread):
    net, (x, y), eps = random_net(seed, width, depth), batch(seed, n=6), 0.5
    exact = exact_max_loss(net, x, y, eps, norm)
    pgd = squared_loss(net(x + pgd_attack(net, x, y, eps, norm=norm, steps=30, restarts=3,
                                          generator=torch.Generator().manual_seed(seed))), y).detach()
    lp = lp_max_loss(net, x, y, eps, norm)
    crown, ibp, lipschitz = (certified_max_loss(net, x, y, eps, norm, method=m)
                             for m in ("crown", "ibp", "weight_norm"))
    assert (pgd <= exact * (1 + 1e-9) + 1e-12).all()
    assert (exact <= lp * (1 + 1e-6) + 1e-9).all()
    assert (lp <= crown * (1 + 1e-6) + 1e-9).all()  # triangle LP over the same intervals
    assert (crown <= ibp + 1e-12).all()  # CROWN's intervals lie inside IBP's by construction
    assert (exact <= lipschitz + 1e-12).all()
    assert (ibp > exact * 1.001).any()  # a ReLU net: the interval bound is not tight


def test_lp_and_crown_are_tighter_than_ibp_on_average():
    net, (x, y) = random_net(9, 16, 2), batch(9, n=20)
    for norm in ("l2", "linf"):
        exact = exact_max_loss(net, x, y, 0.5, norm).mean()
        ibp = certified_max_loss(net, x, y, 0.5, norm, method="ibp").mean()
        crown = certified_max_loss(net, x, y, 0.5, norm, method="crown").mean()
        lp = lp_max_loss(net, x, y, 0.5, norm).mean()
        assert exact <= lp < crown < ibp


def linear_models(theta):
    mlp = linear_model(len(theta)).double()
    with torch.no_grad():
        mlp.layers[0].weight.copy_(torch.tensor(theta)[None])
    seq = nn.Sequential(nn.Linear(len(theta), 1, bias=False)).double()
    seq[0].weight.data.copy_(torch.tensor(theta)[None])
    return mlp, seq


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_all_equal_the_closed_form_for_a_linear_model(norm):
    theta = [0.8, -0.6]
    x, y = batch(10, n=7)
    dual = math.hypot(*theta) if norm == "l2" else sum(abs(t) for t in theta)
    closed = ((x @ torch.tensor(theta, dtype=torch.float64) - y).abs() + 0.4 * dual) ** 2
    for model in linear_models(theta):
        for value in [exact_max_loss(model, x, y, 0.4, norm), lp_max_loss(model, x, y, 0.4, norm),
                      *(certified_max_loss(model, x, y, 0.4, norm, method=m) for m in ("ibp", "crown"))]:
            torch.testing.assert_close(value, closed, rtol=1e-6, atol=1e-9)


def test_model_kinds_and_per_sample_eps():
    torch.manual_seed(11)
    net = TwoLayerNet(2, 10, activation="relu", generator=torch.Generator().manual_seed(11)).double()
    with torch.no_grad():
        net.theta.mul_(40.0)
    seq = nn.Sequential(nn.Linear(2, 10, bias=False), nn.ReLU(), nn.Linear(10, 1, bias=False)).double()
    with torch.no_grad():
        seq[0].weight.copy_(net.theta.T)
        seq[2].weight.copy_(net.a[None] / math.sqrt(10))
    x, y = batch(11, n=5)
    eps = torch.tensor([0.0, 0.1, 0.2, 0.4, 0.8], dtype=torch.float64)
    for norm in ("l2", "linf"):
        value = exact_max_loss(net, x, y, eps, norm)
        torch.testing.assert_close(exact_max_loss(seq, x, y, eps, norm), value)
        assert value[0] == pytest.approx(((net(x[:1]) - y[:1]) ** 2).item())  # ε = 0: the clean loss
        one_by_one = torch.cat([exact_max_loss(net, x[i:i + 1], y[i:i + 1], eps[i].item(), norm) for i in range(5)])
        torch.testing.assert_close(one_by_one, value)


def test_refusals_name_the_limit_and_the_alternatives():
    net, (x, y) = random_net(12, 8, 2), batch(12, n=3)
    x3 = torch.randn(3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"d ≤ 2.*pgd_attack.*certified_max_loss.*linf"):
        exact_max_loss(random_net(12, 8, 1, d=3), x3, y, 0.1, "l2")
    with pytest.raises(ValueError, match=r"sample \d+ has \d+ unstable ReLUs.*max_unstable=2"):
        exact_max_loss(net, x, y, 1.0, "linf", method="milp", max_unstable=2)
    with pytest.raises(ValueError, match="method"):
        exact_max_loss(net, x, y, 0.1, "l2", method="grid")
    with pytest.raises(ValueError, match="method='regions' needs d ≤ 2"):
        exact_max_loss(random_net(12, 8, 1, d=3), x3, y, 0.1, "linf", method="regions")
    with pytest.raises(ValueError, match="max_regions"):
        exact_max_loss(net, x, y, 1.0, "l2", max_regions=2)
    with pytest.raises(TypeError, match="activation='tanh'"):
        exact_max_loss(MLP(2, 4, 1, activation="tanh").double(), x, y, 0.1)
    with pytest.raises(TypeError, match="Tanh"):
        exact_max_loss(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double(), x, y, 0.1)
    with pytest.raises(TypeError, match="2 outputs"):
        certified_max_loss(nn.Sequential(nn.Linear(2, 2)).double(), x, y, 0.1, method="ibp")
    with pytest.raises(ValueError, match="method must be one of"):
        certified_max_loss(net, x, y, 0.1, method="lp")
    with pytest.raises(ValueError, match="eps"):
        exact_max_loss(net, x, y, -0.1)


def test_certified_eps_grid_matches_one_call_per_eps():
    net, (x, y) = random_net(13, 8, 2), batch(13)
    grid = torch.tensor([0.1, 0.3])
    for method in ("ibp", "crown"):
        both = certified_max_loss(net, x, y, grid, "l2", method=method)
        assert both.shape == (2, 4)
        for k in range(2):
            torch.testing.assert_close(both[k], certified_max_loss(net, x, y, grid[k].item(), "l2", method=method))


def test_bracket_helper_for_the_explorer():
    from advexplore.experiments.adversarial_vs_regularized import BRACKET, bracket_max_loss

    net, (x, y) = random_net(14, 10, 2), batch(14, n=8)
    out = bracket_max_loss(net, x, y, 0.4, "linf", pgd_steps=10, generator=torch.Generator().manual_seed(0))
    assert set(out["loss"]) == set(out["seconds"]) == set(out["ratio"]) == set(BRACKET)
    assert out["ratio"]["exact"] == 1.0 and out["ratio"]["pgd"] <= 1.0
    assert all(out["ratio"][name] >= 1.0 for name in ("lp", "crown", "ibp", "weight_norm"))
    torch.testing.assert_close(out["loss"]["exact"], exact_max_loss(net, x, y, 0.4, "linf"))
    high = bracket_max_loss(random_net(14, 10, 1, d=3), torch.randn(4, 3, dtype=torch.float64), y[:4], 0.2, "l2",
                            which=("pgd", "exact", "crown"))
    assert set(high["loss"]) == {"pgd", "crown"} and high["ratio"] == {}  # no exact L2 value for d > 2
    assert "pgd_attack" in high["skipped"]["exact"]
    smooth = bracket_max_loss(MLP(2, 4, 1, activation="tanh").double(), x, y, 0.1, which=("pgd", "ibp"))
    assert set(smooth["loss"]) == {"pgd"} and "ReLU" in smooth["skipped"]["ibp"]
    with pytest.raises(ValueError, match="which"):
        bracket_max_loss(net, x, y, 0.4, which=("pgd", "milp"))
