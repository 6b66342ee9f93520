"""Robust accuracy under PGD (any-iterate, batched restarts) and AutoAttack (ART), against the
closed form of linear classifiers: with logits Wx + b, sample i survives every δ in the ε-ball iff
for each class k ≠ y_i the margin (w_y − w_k)ᵀx_i + b_y − b_k exceeds ε‖w_y − w_k‖_* (the
minimum of a linear function over the ball); ‖·‖_* = ‖·‖₂ for L2 and ‖·‖₁ for L∞."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from advexplore.classification import (adversarial_accuracy, autoattack_correct, cross_entropy_loss, predict,
                                       relu_classifier, robust_accuracies, robust_correct)
from advexplore.pgd import pgd_attack

pytestmark = pytest.mark.usefixtures("one_thread")


def _linear(classes=2, n=60, seed=0):
    """A linear classifier on 8×8 "images" (n, 1, 8, 8), as AutoAttack's Square attack wants."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, classes))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(classes, 64, generator=g))
        net[1].bias.copy_(0.3 * torch.randn(classes, generator=g))
    x = 0.5 * torch.randn(n, 1, 8, 8, generator=g)
    y = predict(net, x)  # all right when clean: robustness alone decides
    flip = torch.rand(n, generator=g) < 0.1
    y[flip] = (y[flip] + 1) % classes  # … except a few, which must count as wrong
    return net, x, y


def _closed_form(net, x, y, eps, norm):
    w, b = net[1].weight.detach(), net[1].bias.detach()
    u = w[y][:, None, :] - w[None, :, :]                     # (n, k, d)
    margin = torch.einsum("nkd,nd->nk", u, x.flatten(1)) + b[y][:, None] - b[None, :]
    dual = u.norm(dim=2) if norm == "l2" else u.abs().sum(2)
    slack = margin - eps * dual
    slack[torch.arange(len(y)), y] = float("inf")
    return slack.amin(1), (slack.amin(1) > 0) & (predict(net, x) == y)


def _eps_away_from_ties(net, x, y, norm):
    """An ε near the median breaking radius at which no sample lies within 2 % of its radius."""
    w, b = net[1].weight.detach(), net[1].bias.detach()
    u = w[y][:, None, :] - w[None, :, :]
    margin = torch.einsum("nkd,nd->nk", u, x.flatten(1)) + b[y][:, None] - b[None, :]
    dual = u.norm(dim=2) if norm == "l2" else u.abs().sum(2)
    radius = (margin / dual.clamp_min(1e-12))
    radius[torch.arange(len(y)), y] = float("inf")
    radius = radius.amin(1)
    radius = radius[radius > 0]
    for q in (0.5, 0.45, 0.55, 0.4, 0.6):
        eps = float(radius.quantile(q)) * 1.01
        if ((radius - eps).abs() > 0.02 * eps).all():
            return eps
    pytest.fail("no ε away from ties")


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_any_iterate_equals_the_closed_form_of_a_binary_linear_classifier(norm):
    net, x, y = _linear(classes=2)
    eps = _eps_away_from_ties(net, x, y, norm)
    _, exact = _closed_form(net, x, y, eps, norm)
    assert 0 < exact.sum() < len(y)  # both kinds of samples are present
    for restarts, drop in ((1, True), (5, True), (5, False)):
        got = robust_correct(net, x, y, eps, norm=norm, steps=20, restarts=restarts, clip=None,
                             generator=torch.Generator().manual_seed(3), drop_broken=drop)
        assert torch.equal(got, exact), (restarts, drop)


def test_any_iterate_breaks_every_sample_the_best_loss_iterate_breaks():
    """Restart 0 of robust_correct walks the same path as pgd_attack from δ = 0; counting a
    sample broken at ANY iterate can only break more samples than scoring the best-loss one."""
    g = torch.Generator().manual_seed(0)
    net = relu_classifier((1, 4, 4), 3, hidden=16, generator=g)
    x = torch.rand(200, 1, 4, 4, generator=g)
    y = predict(net, x)
    eps = 0.4
    ours = robust_correct(net, x, y, eps, steps=10, restarts=1)
    delta = pgd_attack(net, x, y, eps, steps=10, restarts=1, loss=cross_entropy_loss, clip=(0.0, 1.0),
                       random_start=False)
    best_loss = predict(net, x + delta) == y
    assert (ours <= best_loss).all()
    assert torch.equal(ours, robust_correct(net, x, y, eps, steps=10, restarts=1, drop_broken=False))
    assert adversarial_accuracy(net, x, y, eps, steps=10) == pytest.approx(ours.float().mean().item())


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_autoattack_equals_the_closed_form_of_a_linear_classifier(norm):
    net, x, y = _linear(classes=3, n=40, seed=1)
    eps = _eps_away_from_ties(net, x, y, norm)
    _, exact = _closed_form(net, x, y, eps, norm)
    assert 0 < exact.sum() < len(y)
    # the whole standard ensemble once (Square shortened: on robust samples it spends every query)
    for version in ("fast", "standard") if norm == "l2" else ("fast",):
        got = autoattack_correct(net, x, y, eps, norm=norm, clip=None, version=version, square_queries=100)
        assert torch.equal(got, exact), version
    assert adversarial_accuracy(net, x, y, eps, norm=norm, clip=None, attack="autoattack") == pytest.approx(
        exact.float().mean().item())


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_robust_accuracies_of_notebooks_09_and_10_equal_the_closed_form(norm):
    """robust_accuracies (PGD and AutoAttack side by side, as notebooks 09 and 10 report them):
    on a linear classifier both per-sample answers are the closed form, each accuracy is the mean
    of its per-sample answers and at most the standard accuracy; at ε = 0 nothing is attacked."""
    net, x, y = _linear(classes=3, n=40, seed=2)
    eps = _eps_away_from_ties(net, x, y, norm)
    _, exact = _closed_form(net, x, y, eps, norm)
    assert 0 < exact.sum() < (predict(net, x) == y).sum()  # the attacks must break some right answers
    r = robust_accuracies(net, x, y, eps, norm=norm, steps=20, autoattack="fast", clip=None,
                          generator=torch.Generator().manual_seed(0))
    clean = predict(net, x) == y
    assert torch.equal(r["clean"], clean) and torch.equal(r["pgd"], exact) and torch.equal(r["autoattack"], exact)
    assert torch.equal(r["both"], exact)
    for key, name in (("clean", "standard_accuracy"), ("pgd", "pgd_accuracy"), ("autoattack", "autoattack_accuracy"),
                      ("both", "combined_accuracy")):
        assert r[name] == pytest.approx(r[key].float().mean().item()) and r[name] <= clean.float().mean().item()
    off = robust_accuracies(net, x, y, eps, norm=norm, autoattack="off", clip=None)
    assert off["autoattack"] is None and off["autoattack_accuracy"] is None and off["combined_accuracy"] is None
    assert torch.equal(off["both"], off["pgd"])
    zero = robust_accuracies(net, x, y, 0.0, norm=norm, clip=None)
    assert torch.equal(zero["pgd"], clean) and torch.equal(zero["autoattack"], clean)
    with pytest.raises(ValueError, match="autoattack must be one of"):
        robust_accuracies(net, x, y, eps, autoattack="on")


def test_attack_name_is_checked():
    net, x, y = _linear()
    with pytest.raises(ValueError, match="attack must be one of"):
        adversarial_accuracy(net, x, y, 0.1, attack="fgsm")


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_wrn_evaluation_counts_any_iterate_like_robust_correct(norm):
    """The WRN pipeline's evaluation (gpu.evaluate.pgd_any_iterate) on a binary linear classifier
    equals the closed form, like robust_correct: the any-iterate rule with a random start."""
    from advexplore.gpu.evaluate import evaluate

    for seed in range(2, 12):  # a draw whose ε-balls stay inside [0, 1] and avoid near-ties
        net, x, y = _linear(classes=2, n=40, seed=seed)
        with torch.no_grad():  # the same classifier on images 0.5 + 0.1·x: f(x') = W(x' − 0.5)/0.1 + b
            net[1].weight.mul_(10.0)
            net[1].bias.sub_(net[1].weight.sum(1) * 0.5)
        x = 0.5 + 0.1 * x
        try:
            eps = _eps_away_from_ties(net, x, y, norm)
        except pytest.fail.Exception:
            continue
        if x.min() - eps > 0 and x.max() + eps < 1:
            break
    else:
        pytest.fail("no suitable draw")
    _, exact = _closed_form(net, x, y, eps, norm)
    assert 0 < exact.sum() < len(y)
    result = evaluate(net, x, y, eps, norm=norm, steps=20, generator=torch.Generator().manual_seed(0))
    assert result["robust_acc"] == pytest.approx(exact.float().mean().item())
