"""The library refuses bad tensors before any computation: NaN/inf in x or y, a model and input of
different dtype or device, the wrong input width or channel count, empty batches, a model that is
not callable, an ε of the wrong shape, negative tolerances; and a training loop that diverges stops
with the step named instead of returning NaN weights."""
import math
from functools import partial

import pytest
import torch
from torch import nn

from advexplore import (adversarial_train, certified_max_loss, exhaustive_attack_2d, pgd_attack,
                        regularized_risk, regularized_train, robust_optimum, surrogate_attack, surrogate_risk)
from advexplore._validate import NonFiniteError, check_model_input
from advexplore.attacks import input_gradient
from advexplore.bounds import exhaustive_max_loss
from advexplore.classification import accuracy, adversarial_accuracy, cross_entropy_loss
from advexplore.experiments.confidence_and_margins import (boundary_margin, confidence_report, layerwise_lipschitz,
                                                           logit_margin, softmax_confidence)
from advexplore.models.wrn import WideResNet
from advexplore.regularized import adversarial_gap, attacked_risk, standard_risk


def _regression():
    torch.manual_seed(0)
    return nn.Linear(2, 1).double(), torch.randn(6, 2, dtype=torch.float64), torch.randn(6, dtype=torch.float64)


def _classifier():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).double()
    return net, torch.rand(6, 1, 2, 2, dtype=torch.float64), torch.arange(6) % 3


# every public function that takes a batch, called with small valid arguments
REGRESSION = {
    "surrogate_attack": lambda m, x, y: surrogate_attack(m, x, y, 0.1),
    "pgd_attack": lambda m, x, y: pgd_attack(m, x, y, 0.1, steps=2),
    "input_gradient": lambda m, x, y: input_gradient(m, x, y),
    "exhaustive_attack_2d": lambda m, x, y: exhaustive_attack_2d(m, x, y, 0.1, shells=2, points_per_shell=8),
    "exhaustive_max_loss": lambda m, x, y: exhaustive_max_loss(m, x, y, [0.1], shells_per_eps=2, points_per_shell=8),
    "certified_max_loss": lambda m, x, y: certified_max_loss(m, x, y, 0.1),
    "regularized_risk": lambda m, x, y: regularized_risk(m, x, y, 0.1),
    "regularized_risk_grad": lambda m, x, y: regularized_risk(m, x, y, 0.1, omega="input_gradient"),
    "standard_risk": lambda m, x, y: standard_risk(m, x, y),
    "attacked_risk": lambda m, x, y: attacked_risk(m, x, y, 0.1, steps=2),
    "adversarial_gap": lambda m, x, y: adversarial_gap(m, x, y, 0.1, steps=2),
    "regularized_train": lambda m, x, y: regularized_train(m, x, y, eps=0.1, lr=0.01, steps=2),
    "adversarial_train": lambda m, x, y: adversarial_train(m, x, y, eps=0.1, lr=0.01, steps=2),
}
CLASSIFICATION = {
    "accuracy": lambda m, x, y: accuracy(m, x, y),
    "adversarial_accuracy": lambda m, x, y: adversarial_accuracy(m, x, y, 0.1, steps=2),
    "softmax_confidence": lambda m, x, y: softmax_confidence(m, x),
    "logit_margin": lambda m, x, y: logit_margin(m, x, y),
    "boundary_margin": lambda m, x, y: boundary_margin(m, x, y, 0.5, bisections=1, steps=2),
    "layerwise_lipschitz": lambda m, x, y: layerwise_lipschitz(m, x),
    "confidence_report": lambda m, x, y: confidence_report(m, x, y, 0.1, bisections=1, steps=2),
    "pgd_attack_ce": lambda m, x, y: pgd_attack(m, x, y, 0.1, steps=2, loss=cross_entropy_loss),
}
CASES = [(name, f, _regression) for name, f in REGRESSION.items()] + \
        [(name, f, _classifier) for name, f in CLASSIFICATION.items()]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,func,make", CASES, ids=IDS)
def test_valid_input_still_works(name, func, make):
    model, x, y = make()
    func(model, x, y)


@pytest.mark.parametrize("name,func,make", CASES, ids=IDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_in_x_is_refused(name, func, make, bad):
    model, x, y = make()
    x = x.clone()
    x.view(-1)[3] = bad
    with pytest.raises(ValueError, match=r"x must be finite: it holds 1 NaN/inf value"):
        func(model, x, y)


@pytest.mark.parametrize("name,func,make", [c for c in CASES if c[2] is _regression],
                         ids=[c[0] for c in CASES if c[2] is _regression])
def test_nan_in_y_is_refused(name, func, make):
    model, x, y = make()
    y = y.clone()
    y[0] = math.nan
    with pytest.raises(ValueError, match="y must be finite"):
        func(model, x, y)


@pytest.mark.parametrize("name,func,make", CASES, ids=IDS)
def test_dtype_mismatch_names_both_dtypes(name, func, make):
    model, x, y = make()
    with pytest.raises(TypeError, match=r"x has dtype torch.float32 but the model's parameters are torch.float64"):
        func(model, x.float(), y)


@pytest.mark.parametrize("name,func,make", CASES, ids=IDS)
def test_empty_batch_is_refused(name, func, make):
    model, x, y = make()
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, "):
        func(model, x[:0], y[:0])


@pytest.mark.parametrize("name,func,make", [c for c in CASES if c[0] != "adversarial_train"],
                         ids=[c[0] for c in CASES if c[0] != "adversarial_train"])
def test_a_model_that_is_not_callable_is_refused(name, func, make):
    _, x, y = make()
    with pytest.raises(TypeError, match="model must be callable .* got NoneType"):
        func(None, x, y)


def test_device_mismatch_names_both_devices():
    model = nn.Linear(2, 1, device="meta")  # parameters on another device than x (no GPU needed)
    with pytest.raises(TypeError, match=r"x is on device cpu but the model's parameters are on meta"):
        pgd_attack(model, torch.randn(4, 2), torch.randn(4), 0.1)


def test_wrong_width_or_channels_name_the_expected_shape():
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\) for this model .* got \(5, 3\)"):
        surrogate_attack(nn.Linear(2, 1).double(), x, y, 0.1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with pytest.raises(ValueError, match=r"12 values per sample .* got \(5, 1, 2, 2\)"):
        pgd_attack(net, torch.rand(5, 1, 2, 2), torch.arange(5) % 3, 0.1, loss=cross_entropy_loss)
    wrn = WideResNet(10, 1)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3, \.\.\., \.\.\.\) .* 3 channels\), got \(2, 1, 32, 32\)"):
        pgd_attack(wrn, torch.rand(2, 1, 32, 32), torch.tensor([0, 1]), 0.1, loss=cross_entropy_loss)
    check_model_input(wrn, torch.rand(2, 3, 32, 32))  # the right shape passes
    check_model_input(lambda t: t.sum(1), torch.rand(2, 7))  # a plain function: nothing to read off


def test_eps_of_the_wrong_shape_and_bad_scalars_are_named():
    model, x, y = _regression()
    with pytest.raises(ValueError, match=r"eps must be a single number, got a tensor of shape \(8,\)"):
        adversarial_train(model, x, y, eps=torch.ones(8), lr=0.1, steps=1)
    with pytest.raises(ValueError, match=r"eps must be a number or a tensor of shape \(6,\), got shape \(3,\)"):
        pgd_attack(model, x, y, torch.ones(3))
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        adversarial_train(model, x, y, eps=0.1, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        regularized_train(model, x, y, eps=0.1, lr=-1.0, steps=1)
    with pytest.raises(ValueError, match="eps must be finite"):
        adversarial_train(model, x, y, eps=math.inf, lr=0.1, steps=1)
    with pytest.raises(ValueError, match=r"y must be a tensor with 6 rows to match x, got \(5,\)"):
        surrogate_attack(model, x, y[:5], 0.1)


def test_negative_tolerance_and_empty_grids_are_refused():
    th0 = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="rtol must be > 0, got -1"):
        surrogate_risk(th0, th0, 0.5, 0.1, rtol=-1)
    with pytest.raises(ValueError, match="rtol contains NaN"):
        surrogate_risk(th0, th0, 0.5, 0.1, rtol=math.nan)
    with pytest.raises(ValueError, match=r"eps must hold at least one value, got an empty tensor of shape \(0,\)"):
        robust_optimum(th0, torch.zeros(0))
    model, x, y = _regression()
    with pytest.raises(ValueError, match="eps_grid must hold at least one value"):
        exhaustive_max_loss(model, x, y, [])


def test_a_diverging_training_run_stops_with_the_step_named():
    """Plain gradient descent on the squared loss with lr 1e4 ≫ 2/λ_max(XᵀX/n): the weights grow
    by a factor ~lr·λ per step, overflow float32 and the loss turns inf/NaN within a few steps."""
    torch.manual_seed(0)
    x, y = torch.randn(20, 3), torch.randn(20)
    model = nn.Linear(3, 1)
    with pytest.raises(NonFiniteError, match=r"the training loss is (inf|nan) at step \d+ of 200"):
        adversarial_train(model, x, y, eps=0.1, lr=1e4, steps=200)
    with pytest.raises(NonFiniteError, match=r"the regularised risk is (inf|nan) at step \d+ of 200"):
        regularized_train(nn.Linear(3, 1), x, y, eps=0.1, lr=1e4, steps=200, optimizer="sgd")
    # the same run with a sane step size is finite to the end
    history = adversarial_train(nn.Linear(3, 1), x, y, eps=0.1, lr=0.05, steps=20,
                                attack=partial(surrogate_attack))
    assert all(math.isfinite(v) for v in history.train_loss)
