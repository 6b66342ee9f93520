"""Classification with the shared attack/training contract: cross-entropy and labels through
surrogate_attack, pgd_attack and adversarial_train (L2 and L∞, inputs clipped to [0, 1]), and
the confidence/margin/smoothness measures of paper 003, each against an independent closed form."""
from __future__ import annotations


import numpy as np
import pytest
import torch
from torch import nn

from advexplore.attacks import surrogate_attack
from advexplore.classification import (accuracy, adversarial_accuracy, cross_entropy_loss, relu_classifier,
                                       train_classifier)
from advexplore.experiments.confidence_and_margins import (boundary_margin, confidence_report, layerwise_jacobian_singular_values,
                                   logit_margin, softmax_confidence)
from advexplore.data import load_task
from advexplore.pgd import pgd_attack
from advexplore.training import adversarial_train


pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices: see conftest.one_thread


def _linear_two_class(d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(d, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(2, d, generator=g))
        net[1].bias.copy_(torch.randn(2, generator=g))
    x = torch.rand(20, d, generator=g)
    y = torch.randint(0, 2, (20,), generator=g)
    return net, x, y


def test_cross_entropy_loss_matches_numpy():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 3, 1, 1, 2])
    z = logits.numpy().astype(np.float64)
    expected = np.log(np.exp(z).sum(1)) - z[np.arange(5), y.numpy()]
    np.testing.assert_allclose(cross_entropy_loss(logits, y).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="int64 labels"):
        cross_entropy_loss(logits, y.float())


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_attacks_reach_the_closed_form_worst_case_of_a_linear_classifier(norm):
    """For logits Wx + b and 2 classes the CE grows with −s·(w_y − w_ȳ)ᵀδ, so the worst δ is
    −ε u/‖u‖₂ (L2) or −ε sign(u) (L∞), u = w_y − w_ȳ: both attacks must attain its loss.
    (PGD from δ = 0: the gradient direction is constant, so it walks straight there; from a
    random start the orthogonal part only decays geometrically.)"""
    net, x, y = _linear_two_class()
    eps = 0.3
    w = net[1].weight.detach()
    u = w[y] - w[1 - y]  # (n, d)
    best = -eps * (u / u.norm(dim=1, keepdim=True) if norm == "l2" else torch.sign(u))
    target = cross_entropy_loss(net(x + best), y)
    for delta in (surrogate_attack(net, x, y, eps, norm=norm, loss=cross_entropy_loss),
                  pgd_attack(net, x, y, eps, norm=norm, steps=20, loss=cross_entropy_loss, random_start=False)):
        size = delta.norm(dim=1) if norm == "l2" else delta.abs().amax(dim=1)
        assert (size <= eps * (1 + 1e-5)).all()
        torch.testing.assert_close(cross_entropy_loss(net(x + delta), y), target, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_attacks_keep_images_in_the_unit_box_and_raise_the_loss(norm):
    task = load_task("", classes=(0, 1), seed=0)
    x, y = task.x_test[:40], task.y_test[:40]
    net = relu_classifier(x.shape[1:], 2, hidden=32, generator=torch.Generator().manual_seed(0))
    eps = 1.0 if norm == "l2" else 0.1
    clean = cross_entropy_loss(net(x), y)
    for delta in (surrogate_attack(net, x, y, eps, norm=norm, loss=cross_entropy_loss, clip=(0, 1)),
                  pgd_attack(net, x, y, eps, norm=norm, loss=cross_entropy_loss, clip=(0, 1))):
        assert delta.shape == x.shape and (x + delta).min() >= 0 and (x + delta).max() <= 1
        assert (cross_entropy_loss(net(x + delta), y) >= clean - 1e-6).all()


@pytest.mark.parametrize("norm, eps", [("l2", 0.5), ("linf", 0.05)])
def test_adversarial_train_with_labels_and_cross_entropy(norm, eps):
    task = load_task("", classes=(0, 1), seed=0)
    x, y = task.x_train[:60], task.y_train[:60]
    net = relu_classifier(x.shape[1:], 2, hidden=32, generator=torch.Generator().manual_seed(0))
    seen = []

    def attack(model, xb, yb, e, **kw):
        delta = pgd_attack(model, xb, yb, e, steps=3, **kw)
        seen.append((xb + delta).min().item() >= 0 and (xb + delta).max().item() <= 1)
        return delta

    h = adversarial_train(net, x, y, eps=eps, norm=norm, lr=0.5, steps=30, loss=cross_entropy_loss,
                          attack=attack, clip=(0.0, 1.0), l1=1e-4)
    assert all(seen) and h.train_loss[-1] < 0.5 * h.train_loss[0]


def test_adversarial_accuracy_is_at_most_standard_accuracy():
    task = load_task("", classes=None, seed=0)
    net = relu_classifier(task.x_train.shape[1:], 10, hidden=64, generator=torch.Generator().manual_seed(0))
    train_classifier(net, task.x_train, task.y_train, epochs=20, lr=0.5, batch_size=128,
                     generator=torch.Generator().manual_seed(0))
    x, y = task.x_test[:200], task.y_test[:200]
    standard = accuracy(net, x, y)
    assert standard > 0.8
    accs = [adversarial_accuracy(net, x, y, e, steps=10) for e in (0.0, 0.25, 0.5, 1.0)]
    assert accs[0] == standard and all(a <= standard for a in accs)
    assert accs[-1] < standard  # the attack finds errors


def test_adversarial_training_raises_adversarial_accuracy_on_digits():
    task = load_task("", classes=None, seed=0)
    eps, results = 0.5, {}
    for train_eps in (0.0, eps):
        net = relu_classifier(task.x_train.shape[1:], 10, hidden=128, generator=torch.Generator().manual_seed(0))
        train_classifier(net, task.x_train, task.y_train, eps=train_eps, epochs=25, lr=0.5, batch_size=128,
                         attack_steps=5, generator=torch.Generator().manual_seed(1))
        results[train_eps] = adversarial_accuracy(net, task.x_test, task.y_test, eps, steps=20)
    assert results[eps] > results[0.0] + 0.05, results


def test_confidence_and_logit_margin_closed_form():
    net, x, y = _linear_two_class()
    logits = net(x).detach()
    p = torch.softmax(logits.double(), 1)
    torch.testing.assert_close(softmax_confidence(net, x).double(), p.max(1).values, rtol=1e-5, atol=1e-6)
    expected = logits[torch.arange(20), y] - logits[torch.arange(20), 1 - y]
    torch.testing.assert_close(logit_margin(net, x, y), expected)


def test_boundary_margin_is_the_distance_to_the_hyperplane_of_a_linear_classifier():
    """Two classes, logits Wx + b: the boundary is (w1 − w0)ᵀx + b1 − b0 = 0, so a correctly
    classified x is at L2 distance |logit margin| / ‖w1 − w0‖₂ (no clipping)."""
    net, x, y = _linear_two_class()
    w, b = net[1].weight.detach(), net[1].bias.detach()
    dist = ((x @ (w[1] - w[0]) + b[1] - b[0]).abs() / (w[1] - w[0]).norm())
    correct = net(x).argmax(1) == y
    eps_max, bisections = float(dist.max()) * 1.5, 10
    margin = boundary_margin(net, x, y, eps_max, bisections=bisections, steps=20, clip=None)
    resolution = eps_max / 2 ** bisections
    assert (margin[~correct] == 0).all()
    assert torch.all(margin[correct] >= dist[correct] - 1e-5)  # a flip at ε proves dist ≤ ε
    assert torch.all(margin[correct] <= dist[correct] + resolution + 1e-5)
    far = boundary_margin(net, x, y, float(dist[correct].min()) / 2, clip=None)
    assert torch.isinf(far[correct]).all()


def test_layerwise_jacobian_singular_values_closed_form():
    """h1 = ReLU(W1 x + b1) has Jacobian diag(1[W1 x + b1 > 0]) W1; the logits W2 diag(·) W1."""
    net = relu_classifier((5,), 3, hidden=7, generator=torch.Generator().manual_seed(2))
    x = torch.rand(4, 5, generator=torch.Generator().manual_seed(3))
    w1, b1, w2 = net[1].weight.detach(), net[1].bias.detach(), net[3].weight.detach()
    svs = layerwise_jacobian_singular_values(net, x)
    assert len(svs) == 2
    for i in range(4):
        active = ((w1 @ x[i] + b1) > 0).double()
        j1 = active[:, None] * w1.double()
        torch.testing.assert_close(svs[0][i].double(), torch.linalg.svdvals(j1), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(svs[1][i].double(), torch.linalg.svdvals(w2.double() @ j1), rtol=1e-5, atol=1e-6)


def test_confidence_report_keys_and_mode():
    task = load_task("", classes=(0, 1), seed=0)
    net = relu_classifier(task.x_train.shape[1:], 2, hidden=16, generator=torch.Generator().manual_seed(0))
    net.train()
    r = confidence_report(net, task.x_test[:30], task.y_test[:30], eps=0.3, bisections=3, steps=3,
                          lipschitz_samples=5)
    assert net.training
    assert r["confidence"].shape == (30,) and r["margin"].shape == (30,) and r["lipschitz"]["local"].shape == (2,)
    assert r["adversarial_accuracy"] <= r["standard_accuracy"]
    assert torch.all((r["confidence"] >= 0.5 - 1e-6) & (r["confidence"] <= 1))
