"""Algorithm 1 (adversarial_train), checked against hand-computed
updates, closed forms (paper 002) and finite differences."""

import numpy as np
import pytest
import torch
from torch import nn

from advexplore import adversarial_risk, gaussian_data, robust_optimum
from advexplore.training import adversarial_train, xi_at


def linear(d, init):
    net = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        net.weight[:] = init
    return net


@pytest.fixture
def data():
    th0 = torch.tensor([1.0, -0.5, 0.25, 0.0], dtype=torch.float64)
    x, y = gaussian_data(64, th0, generator=torch.Generator().manual_seed(3))
    return th0, x, y


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_one_step_equals_hand_computed_update(data, norm):
    th0, x, y = data
    theta = torch.tensor([0.3, 0.2, -0.1, 0.4], dtype=torch.float64)
    eps, lr = 0.4, 0.05
    net = linear(4, theta)
    hist = adversarial_train(net, x, y, eps=eps, lr=lr, steps=1, norm=norm)
    r = x @ theta - y
    # exact attack of a linear model: δ = ε sign(r) θ/‖θ‖₂ (L2) or ε sign(r) sign(θ) (L∞)
    direction = theta / theta.norm() if norm == "l2" else torch.sign(theta)
    x_adv = x + eps * torch.sign(r)[:, None] * direction
    res = x_adv @ theta - y
    expected = theta - lr * (2.0 / len(y)) * (res[:, None] * x_adv).sum(0)
    assert torch.allclose(net.weight[0], expected, atol=1e-12)
    dual = theta.norm() if norm == "l2" else theta.abs().sum()
    assert hist.train_loss[0] == pytest.approx(((r.abs() + eps * dual) ** 2).mean().item(), rel=1e-12)


def test_training_objective_gradient_matches_finite_differences(data):
    """The step uses ∇_θ of (1/n)Σ(θᵀx̃−y)² with x̃ fixed; compare with central differences."""
    th0, x, y = data
    theta = torch.tensor([0.3, 0.2, -0.1, 0.4], dtype=torch.float64)
    lr = 1e-3
    net = linear(4, theta)
    adversarial_train(net, x, y, eps=0.3, xi=0.2, lr=lr, steps=1)
    step_grad = (theta - net.weight[0].detach()) / lr
    from advexplore import surrogate_attack
    x_adv = x + surrogate_attack(linear(4, theta), x, y, 0.3, xi=0.2)

    def objective(t):
        return ((x_adv @ t - y) ** 2).mean()

    h = 1e-6
    fd = torch.stack([(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                      for e in torch.eye(4, dtype=torch.float64)])
    assert torch.allclose(step_grad, fd, atol=1e-6)


def test_f1_surrogate_smooths_training():
    """Fig. 1 setting (d=10, n=1000, θ0=1, σ²=1, ε=3): ξ=0.05 decreases monotonically, ξ=0 does not."""
    th0 = torch.ones(10, dtype=torch.float64)
    x, y = gaussian_data(1000, th0, generator=torch.Generator().manual_seed(0))
    curves = {}
    for xi in (0.0, 0.05):
        net = linear(10, th0)
        curves[xi] = np.array(adversarial_train(net, x, y, eps=3.0, xi=xi, lr=3e-4, steps=600).train_loss)
    assert np.all(np.diff(curves[0.05]) <= 1e-12)
    assert np.sum(np.diff(curves[0.0]) > 1e-6) >= 10  # fluctuates
    _, r_star = robust_optimum(th0, 3.0)
    assert curves[0.05][-1] == pytest.approx(r_star.item(), rel=0.05)


def test_lasso_step_soft_thresholds_and_zeroes_small_weights(data):
    th0, x, y = data
    net = linear(4, torch.zeros(4, dtype=torch.float64))
    adversarial_train(net, x, y, eps=0.0, lr=0.05, steps=400, l1=0.6)
    w = net.weight[0].detach()
    assert (w == 0).any() and (w != 0).any()  # the proximal step gives exact zeros
    # KKT of the LASSO (1/n)‖Xθ−y‖² + λ‖θ‖₁ at the fixed point, computed independently
    grad = (2.0 / len(y)) * x.T @ (x @ w - y)
    active = w != 0
    assert torch.allclose(grad[active], -0.6 * torch.sign(w[active]), atol=1e-6)
    assert torch.all(grad[~active].abs() <= 0.6 + 1e-6)


def test_xi_schedule_and_callback(data):
    th0, x, y = data
    assert xi_at(5, 1.0, {3: 0.1, 6: 0.1}) == pytest.approx(0.1)
    assert xi_at(7, 1.0, {3: 0.1, 6: 0.1}) == pytest.approx(0.01)
    net = linear(4, torch.zeros(4, dtype=torch.float64))
    hist = adversarial_train(net, x, y, eps=0.2, xi=1.0, lr=0.01, steps=8, xi_schedule={3: 0.1},
                             callback=lambda step, m: {"test_risk": adversarial_risk(
                                 m.weight[0].detach(), th0, 0.2).item()})
    assert hist.xi == [1.0] * 3 + [pytest.approx(0.1)] * 5
    assert len(hist.column("test_risk")) == 8 and hist["loss"] == hist.train_loss


def test_minibatches_are_seeded(data):
    th0, x, y = data
    ws = []
    for _ in range(2):
        net = linear(4, torch.zeros(4, dtype=torch.float64))
        adversarial_train(net, x, y, eps=0.1, lr=0.05, steps=20, batch_size=8,
                          generator=torch.Generator().manual_seed(5))
        ws.append(net.weight.detach().clone())
    assert torch.equal(ws[0], ws[1])


def test_cross_entropy_training_runs_with_clip():
    torch.manual_seed(0)
    x = torch.rand(40, 6)
    labels = (x[:, 0] > 0.5).long()
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    ce = lambda out, t: nn.functional.cross_entropy(out, t, reduction="none")
    hist = adversarial_train(net, x, labels, eps=0.05, norm="linf", lr=0.5, steps=60, loss=ce, clip=(0, 1))
    assert hist.train_loss[-1] < hist.train_loss[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-1.0, lr=0.1, steps=1), "eps"),
    (dict(eps=0.1, xi=-1.0, lr=0.1, steps=1), "xi"),
    (dict(eps=0.1, lr=0.0, steps=1), "lr"),
    (dict(eps=0.1, lr=0.1, steps=0), "steps"),
    (dict(eps=0.1, lr=0.1, steps=1, l1=-0.1), "l1"),
    (dict(eps=0.1, lr=0.1, steps=1, norm="l3"), "norm"),
    (dict(eps=0.1, lr=0.1, steps=1, batch_size=1000), "batch_size"),
])
def test_bad_arguments_name_the_argument(data, kwargs, match):
    th0, x, y = data
    with pytest.raises((ValueError, TypeError), match=match):
        adversarial_train(linear(4, torch.zeros(4, dtype=torch.float64)), x, y, **kwargs)
