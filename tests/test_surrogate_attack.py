"""surrogate_attack and surrogate_risk (paper 002, §2.1) against independent computations:
hand-written input gradients (g = 2rθ for the linear model, Wᵀ(softmax − onehot) for
cross-entropy), central finite differences for an MLP, and Monte Carlo of the attacked loss
with data drawn here in numpy (tolerance 5 standard errors)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advexplore.attacks import surrogate_attack
from advexplore.linear_risk import adversarial_risk, surrogate_risk


def _linear(theta):
    model = nn.Linear(len(theta), 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(theta, dtype=torch.float64)[None, :])
    return model


def _batch(n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=gen, dtype=torch.float64),
            torch.randn(n, generator=gen, dtype=torch.float64))


THETAS = [[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]]  # the second has a zero coordinate


@pytest.mark.parametrize("theta", THETAS)
def test_xi_zero_is_the_exact_linear_attack(theta):
    x, y = _batch(64, 3, 0)
    th = torch.tensor(theta, dtype=torch.float64)
    model = _linear(th)
    r = x @ th - y
    eps = 0.37
    d2 = surrogate_attack(model, x, y, eps, norm="l2")
    torch.testing.assert_close(d2, eps * torch.sign(r)[:, None] * th / th.norm(), rtol=1e-13, atol=1e-15)
    dinf = surrogate_attack(model, x, y, eps, norm="linf")
    torch.testing.assert_close(dinf, eps * torch.sign(r)[:, None] * torch.sign(th), rtol=0, atol=0)
    # it is the maximiser: the attacked residual is |r| + ε‖θ‖_* in magnitude
    for delta, dual in ((d2, th.norm()), (dinf, th.abs().sum())):
        attacked = (x + delta) @ th - y
        torch.testing.assert_close(attacked.abs(), r.abs() + eps * dual, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xi", [0.05, 1.0, 7.0])
def test_xi_positive_factor_from_hand_gradient(xi):
    x, y = _batch(50, 3, 1)
    th = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    model = _linear(th)
    eps = 0.2
    r = x @ th - y
    g = 2 * r[:, None] * th  # ∂(θᵀx − y)²/∂x
    gn = g.norm(dim=1, keepdim=True)
    expected_l2 = eps * g / torch.sqrt(gn**2 + xi**2)  # ‖g‖/√(‖g‖²+ξ²) · ε g/‖g‖
    torch.testing.assert_close(surrogate_attack(model, x, y, eps, xi, "l2"), expected_l2,
                               rtol=1e-12, atol=1e-15)
    expected_linf = eps * g.abs() / (g.abs() + xi) * torch.sign(g)
    torch.testing.assert_close(surrogate_attack(model, x, y, eps, xi, "linf"), expected_linf,
                               rtol=1e-12, atol=1e-15)


def test_per_sample_eps_and_norm_aliases():
    x, y = _batch(4, 2, 2)
    th = torch.tensor([1.0, 2.0], dtype=torch.float64)
    eps = torch.tensor([0.0, 0.1, 0.5, 1.0], dtype=torch.float64)
    delta = surrogate_attack(_linear(th), x, y, eps, norm="Linf")
    r = x @ th - y
    torch.testing.assert_close(delta, eps[:, None] * torch.sign(r)[:, None] * torch.sign(th))


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("xi", [0.0, 0.5])
def test_zero_gradient_convention(norm, xi):
    """θ = 0, or a sample with r = 0 exactly, has g = 0: the attack is 0 there (no NaN)."""
    x, y = _batch(8, 3, 3)
    zero = surrogate_attack(_linear([0.0, 0.0, 0.0]), x, y, 1.0, xi, norm)
    assert torch.equal(zero, torch.zeros_like(x))
    model = _linear([1.0, -2.0, 0.5])
    y_fit = model(x).squeeze(-1).detach()  # r = 0 for every sample, bit for bit
    y_fit[0] += 1.0  # except the first
    delta = surrogate_attack(model, x, y_fit, 1.0, xi, norm)
    assert torch.isfinite(delta).all()
    assert torch.equal(delta[1:], torch.zeros_like(delta[1:]))
    assert delta[0].abs().max() > 0


def test_model_mode_grads_and_input_untouched():
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.0), nn.Linear(5, 1)).double()
    x, y = _batch(6, 3, 4)
    x_before = x.clone()
    model[0].weight.grad = torch.full_like(model[0].weight, 3.0)  # a stale grad must survive
    for mode in (True, False):
        model.train(mode)
        surrogate_attack(model, x, y, 0.3, 0.1, "l2")
        assert model.training is mode and all(m.training is mode for m in model.modules())
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 3.0))
    assert model[3].weight.grad is None and model[0].bias.grad is None
    assert torch.equal(x, x_before) and not x.requires_grad


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_clip_keeps_attacked_input_in_range(norm):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(30, 4, generator=gen, dtype=torch.float64)
    x[0, 0], x[1, 1] = 0.0, 1.0  # on the edges
    y = torch.randn(30, generator=gen, dtype=torch.float64)
    model = _linear([1.0, -1.0, 0.5, 2.0])
    raw = surrogate_attack(model, x, y, 0.4, norm=norm)
    delta = surrogate_attack(model, x, y, 0.4, norm=norm, clip=(0.0, 1.0))
    xa = x + delta
    assert xa.min() >= 0.0 and xa.max() <= 1.0
    # clipping only cuts: where x + δ was inside it is unchanged, elsewhere it sits on the edge
    inside = ((x + raw) >= 0) & ((x + raw) <= 1)
    torch.testing.assert_close(delta[inside], raw[inside])
    assert torch.all((xa[~inside] == 0) | (xa[~inside] == 1))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_cross_entropy_linear_classifier_hand_gradient(norm):
    """For logits Wx + b the input gradient of cross-entropy is Wᵀ(softmax − onehot)."""
    gen = torch.Generator().manual_seed(6)
    model = nn.Linear(4, 3).double()
    x = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (20,), generator=gen)
    p = torch.softmax(x @ model.weight.detach().T + model.bias.detach(), dim=1)
    g = (p - F.one_hot(y, 3).double()) @ model.weight.detach()
    ce = lambda out, t: F.cross_entropy(out, t, reduction="none")  # noqa: E731
    delta = surrogate_attack(model, x, y, 0.25, norm=norm, loss=ce)
    expected = 0.25 * (g / g.norm(dim=1, keepdim=True) if norm == "l2" else torch.sign(g))
    torch.testing.assert_close(delta, expected, rtol=1e-10, atol=1e-14)
    # the attack raises the loss of every sample
    assert torch.all(ce(model(x + delta), y) > ce(model(x), y))


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("xi", [0.0, 0.3])
def test_mlp_matches_formula_with_finite_difference_gradient(norm, xi):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    x, y = _batch(10, 3, 7)
    h = 1e-6
    g = torch.empty_like(x)
    with torch.no_grad():
        for i in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[i] = h
            lp = (model(x + e).squeeze(-1) - y) ** 2
            lm = (model(x - e).squeeze(-1) - y) ** 2
            g[:, i] = (lp - lm) / (2 * h)
    eps = 0.15
    if norm == "l2":
        gn = g.norm(dim=1, keepdim=True)
        expected = eps * g / torch.sqrt(gn**2 + xi**2)
    else:
        expected = eps * g.abs() / (g.abs() + xi) * torch.sign(g)
    torch.testing.assert_close(surrogate_attack(model, x, y, eps, xi, norm), expected,
                               rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- surrogate_risk


def _mc_surrogate_risk(theta, theta0, eps, xi, sigma2, cov, norm, n, seed):
    rng = np.random.default_rng(seed)
    d = len(theta0)
    z = rng.standard_normal((n, d))
    x = z if cov is None else z @ np.linalg.cholesky(cov).T
    y = x @ theta0 + math.sqrt(sigma2) * rng.standard_normal(n)
    xt, yt = torch.tensor(x), torch.tensor(y)
    th = torch.tensor(theta, dtype=torch.float64)
    delta = surrogate_attack(_linear(th), xt, yt, eps, xi, norm)
    losses = (((xt + delta) @ th - yt) ** 2).numpy()
    return losses.mean(), losses.std(ddof=1) / math.sqrt(n)


COV = np.array([[1.5, 0.4, 0.0], [0.4, 1.0, -0.3], [0.0, -0.3, 0.7]])


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("cov", [None, COV], ids=["identity", "spd"])
@pytest.mark.parametrize("xi", [0.05, 1.0])
def test_surrogate_risk_equals_monte_carlo_of_surrogate_attack(norm, cov, xi):
    theta0 = np.array([1.0, -0.5, 0.8])
    theta = np.array([0.6, 0.1, 0.5])  # a small coordinate makes the ξ-damping visible in L∞
    eps, sigma2 = 0.5, 0.3
    mean, se = _mc_surrogate_risk(theta, theta0, eps, xi, sigma2, cov, norm, 60000,
                                  seed=int(100 * xi) + (norm == "l2"))
    got = surrogate_risk(torch.tensor(theta), torch.tensor(theta0), eps, xi, sigma2,
                         None if cov is None else torch.tensor(cov), norm)
    assert abs(got.item() - mean) < 5 * se
    # the ξ-damping is resolved by the Monte Carlo: the exact-attack risk is clearly above
    exact = adversarial_risk(torch.tensor(theta), torch.tensor(theta0), eps, sigma2,
                             None if cov is None else torch.tensor(cov), norm).item()
    if xi == 1.0:
        assert exact - mean > 5 * se


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_surrogate_risk_xi_zero_is_adversarial_risk_and_increases_to_it(norm):
    gen = torch.Generator().manual_seed(8)
    thetas = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    theta0 = torch.randn(3, generator=gen, dtype=torch.float64)
    cov = torch.tensor(COV)
    eps = torch.tensor([[0.0], [0.2], [1.0]], dtype=torch.float64)
    exact = adversarial_risk(thetas, theta0, eps, 0.5, cov, norm)
    torch.testing.assert_close(surrogate_risk(thetas, theta0, eps, 0.0, 0.5, cov, norm), exact,
                               rtol=1e-14, atol=0)
    previous = None
    for xi in (10.0, 1.0, 0.1, 0.01, 1e-4):
        sr = surrogate_risk(thetas, theta0, eps, xi, 0.5, cov, norm)
        assert sr.shape == (3, 4)
        assert torch.all(sr <= exact * (1 + 1e-10))
        torch.testing.assert_close(sr[0], exact[0], rtol=1e-9, atol=0)  # ε = 0: no attack
        if previous is not None:
            assert torch.all(sr[1:] > previous[1:])  # strictly closer as ξ ↓ 0
        previous = sr
    torch.testing.assert_close(previous, exact, rtol=1e-3, atol=0)
