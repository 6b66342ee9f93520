"""Regularised risks vs the adversarial risk: equal for a linear model (closed form, eq. 5 by
Monte Carlo), different — and more so as ε grows — for a two-layer ReLU net (paper 000)."""
import math

import pytest
import torch

from advexplore import adversarial_risk, gaussian_data, robust_optimum
from advexplore.bounds import exhaustive_max_loss
from advexplore.cost import count_passes
from advexplore.models import TwoLayerNet, linear_model
from advexplore.regularized import (adversarial_gap, attacked_risk, regularized_risk,
                                    regularized_train, standard_risk)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def fixed_linear(theta):
    model = linear_model(len(theta))
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.as_tensor(theta, dtype=torch.float64)[None])
    return model.double()


THETA, THETA0 = [0.6, -0.3, 0.9], [1.0, 1.0, 0.0]


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_linear_model_all_risks_coincide_with_the_closed_form(norm):
    model = fixed_linear(THETA)
    x, y = gaussian_data(4000, torch.tensor(THETA0, dtype=torch.float64), generator=gen(1))
    eps = torch.tensor([0.0, 0.3, 1.0, 2.5], dtype=torch.float64)
    theta = torch.tensor(THETA, dtype=torch.float64)
    dual = theta.norm() if norm == "l2" else theta.abs().sum()
    per_sample = ((x @ theta - y).abs() + eps[:, None] * dual) ** 2  # (k, n) by hand
    by_hand = per_sample.mean(dim=1)
    for omega in ("weight_norm", "input_gradient"):
        torch.testing.assert_close(regularized_risk(model, x, y, eps, omega, norm), by_hand)
    torch.testing.assert_close(attacked_risk(model, x, y, eps, norm, steps=3, random_start=False), by_hand)
    torch.testing.assert_close(adversarial_gap(model, x, y, eps, norm, steps=3, random_start=False),
                               by_hand - by_hand[0])
    # population eq. 5 / eq. 9 within 4 Monte Carlo standard errors
    population = adversarial_risk(theta, torch.tensor(THETA0, dtype=torch.float64), eps, norm=norm)
    se = per_sample.std(dim=1) / math.sqrt(x.shape[0])
    assert ((by_hand - population).abs() < 4 * se).all()


def _nonlinear_relu_net():
    net = TwoLayerNet(2, 32, activation="relu", delta=0.0, a="random", generator=gen(2)).double()
    with torch.no_grad():
        net.theta.mul_(20.0)  # θ of order 1: well out of the (near-linear) lazy regime
    return net


@pytest.mark.parametrize("omega", ["weight_norm", "input_gradient"])
def test_two_layer_relu_gap_between_regularised_and_adversarial_risk_grows_with_eps(omega):
    net = _nonlinear_relu_net()
    x, y = gaussian_data(200, torch.tensor([1.0, -1.0], dtype=torch.float64), generator=gen(3))
    eps = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    exhaustive, _ = exhaustive_max_loss(net, x, y, eps, shells_per_eps=16, points_per_shell=180)
    adversarial = exhaustive.mean(dim=1)  # dense grid search (d = 2): a lower bound, close to the inner max
    regularized = regularized_risk(net, x, y, eps, omega)
    gap = (regularized - adversarial).abs()
    assert gap[0] < 1e-10  # ε = 0: both are the standard risk
    assert (gap[1:] > gap[:-1]).all()
    # measurable: ≥ 5 % of the risk, and far above the grid error of the search (halving the
    # grid spacing moves it by much less)
    finer, _ = exhaustive_max_loss(net, x, y, eps[-1:], shells_per_eps=64, points_per_shell=360)
    assert gap[-1] > 0.05 * adversarial[-1]
    assert gap[-1] > 20 * (finer.mean() - adversarial[-1]).abs()


def test_weight_norm_risk_is_an_upper_bound_and_input_gradient_is_not_for_relu():
    net = _nonlinear_relu_net()
    x, y = gaussian_data(200, torch.tensor([1.0, -1.0], dtype=torch.float64), generator=gen(5))
    eps = torch.tensor([0.5, 1.0], dtype=torch.float64)
    exhaustive, _ = exhaustive_max_loss(net, x, y, eps)
    assert (regularized_risk(net, x, y, eps, "weight_norm") >= exhaustive.mean(dim=1)).all()


def test_standard_risk_and_gap_shapes():
    net = _nonlinear_relu_net()
    x, y = gaussian_data(50, torch.ones(2, dtype=torch.float64), generator=gen(6))
    assert standard_risk(net, x, y).shape == ()
    gap = adversarial_gap(net, x, y, torch.tensor([0.0, 0.5], dtype=torch.float64), generator=gen(7))
    assert gap.shape == (2,) and abs(gap[0]) < 1e-12 and gap[1] > 0


def test_regularized_training_of_a_linear_model_reaches_the_robust_optimum():
    theta0 = torch.tensor([1.0, 0.5], dtype=torch.float64)
    x, y = gaussian_data(20000, theta0, generator=gen(8))
    model = fixed_linear([0.0, 0.0])
    with torch.no_grad():
        model.layers[0].weight.fill_(0.1)  # away from the kink at θ = 0
    history = regularized_train(model, x, y, eps=0.5, omega="weight_norm", lr=0.02, steps=400)
    theta_star, risk_star = robust_optimum(theta0, 0.5)
    theta = model.layers[0].weight[0].detach()
    assert (theta - theta_star).norm() < 0.05  # sampling error of order 1/√n
    assert history.cost["forward"] == 400 and history.cost["backward"] == 400
    assert abs(adversarial_risk(theta, theta0, 0.5) - risk_star) < 0.01


def test_count_passes_counts_forward_and_backward():
    model = fixed_linear([1.0, 2.0])
    x = torch.randn(7, 2, dtype=torch.float64)
    with count_passes(model) as cost:
        for _ in range(3):
            model(x).sum().backward()
        with torch.no_grad():
            model(x)
    assert (cost.forward, cost.backward, cost.samples_forward) == (4, 3, 28)
    assert cost.seconds > 0


def test_bad_arguments():
    model = fixed_linear([1.0])
    x, y = torch.randn(3, 1, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="omega"):
        regularized_risk(model, x, y, 0.1, omega="spectral")
    with pytest.raises(ValueError, match="eps"):
        regularized_risk(model, x, y, -0.1)
    with pytest.raises(ValueError, match="optimizer"):
        regularized_train(model, x, y, eps=0.1, lr=0.1, steps=1, optimizer="lbfgs")


def test_explorer_widget_updates_headless():
    from advexplore.experiments.adversarial_vs_regularized import ExplorerConfig
    from advexplore.widgets.adversarial_vs_regularized import build_explorer

    explorer = build_explorer(eps=0.4, width=16, depth=1, n=60, d=2,
                              config=ExplorerConfig(fit_steps=10, n_exhaustive=10))
    by_key = lambda: {t.meta: [float(v) for v in t.y] for t in explorer.figure.data  # noqa: E731
                      if t.meta and t.y is not None and t.y[0] is not None}
    before = by_key()
    explorer.update(eps=1.0)  # ε only moves the marker
    assert all(shape.x0 == pytest.approx(1.0) for shape in explorer.figure.layout.shapes)
    assert by_key()["pgd"] == before["pgd"]
    explorer.update(xi=0.5)  # ξ shrinks the attack: the surrogate curve moves off the PGD curve
    assert by_key()["surrogate"] != by_key()["pgd"]
    explorer.update(depth=0)  # linear: every regularised risk is the adversarial risk
    curves = explorer.curves()
    for key in ("weight_norm", "input_gradient"):
        torch.testing.assert_close(torch.tensor(curves[key]), torch.tensor(curves["pgd"]), rtol=1e-4, atol=1e-5)
    assert by_key()["pgd"] == pytest.approx(curves["pgd"])
    with pytest.raises(ValueError, match="unknown explorer values"):
        explorer.update(lambda_=1.0)
