"""Bad input is refused with a ValueError/TypeError whose message names the argument,
for every public function of the linear theory and the surrogate attack."""
import math

import pytest
import torch
from torch import nn

from advexplore._validate import check_norm
from advexplore.attacks import surrogate_attack
from advexplore.data.synthetic import gaussian_data
from advexplore.linear_risk import adversarial_risk, residual_scale, surrogate_risk
from advexplore.robust_optimum import robust_optimum, robust_threshold

TH = torch.tensor([0.5, -0.2], dtype=torch.float64)
TH0 = torch.tensor([1.0, 1.0], dtype=torch.float64)
NOT_SYMMETRIC = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
NOT_PD = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)  # eigenvalues 3, −1
SINGULAR = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
WRONG_SHAPE = torch.eye(3, dtype=torch.float64)
NAN_COV = torch.tensor([[1.0, math.nan], [math.nan, 1.0]], dtype=torch.float64)


def _risk(**kw):
    args = dict(theta=TH, theta0=TH0, eps=0.5, sigma2=1.0, cov=None, norm="l2") | kw
    return adversarial_risk(**args)


def _surrogate(**kw):
    args = dict(theta=TH, theta0=TH0, eps=0.5, xi=0.1, sigma2=1.0, cov=None, norm="l2") | kw
    return surrogate_risk(**args)


def _optimum(**kw):
    args = dict(theta0=TH0, eps=0.5, sigma2=1.0, cov=None, norm="l2") | kw
    return robust_optimum(**args)


FUNCS = {"adversarial_risk": _risk, "surrogate_risk": _surrogate, "robust_optimum": _optimum}


@pytest.mark.parametrize("func", FUNCS.values(), ids=FUNCS.keys())
@pytest.mark.parametrize("name,value,match", [
    ("eps", -0.1, r"eps must be >= 0"),
    ("eps", torch.tensor([0.1, -1.0]), r"eps must be >= 0"),
    ("eps", math.nan, r"eps contains NaN"),
    ("eps", math.inf, r"eps must be finite"),
    ("sigma2", -1.0, r"sigma2 must be >= 0"),
    ("sigma2", math.nan, r"sigma2 contains NaN"),
    ("theta0", torch.tensor([1.0, math.nan]), r"theta0 contains NaN"),
    ("theta0", 1.0, r"theta0 must have shape"),
    ("cov", NOT_SYMMETRIC, r"cov must be symmetric"),
    ("cov", NOT_PD, r"cov must be positive definite"),
    ("cov", SINGULAR, r"cov must be positive definite"),
    ("cov", WRONG_SHAPE, r"cov must have shape \(2, 2\)"),
    ("cov", NAN_COV, r"cov contains NaN"),
    ("norm", "l1", r"norm must be one of \('l2', 'linf'\)"),
    ("norm", 3, r"norm must be one of"),
])
def test_value_errors_name_the_argument(func, name, value, match):
    with pytest.raises(ValueError, match=match):
        func(**{name: value})


@pytest.mark.parametrize("func", FUNCS.values(), ids=FUNCS.keys())
def test_type_errors_name_the_argument(func):
    with pytest.raises(TypeError, match="norm must be one of"):
        func(norm=None)
    with pytest.raises(TypeError, match="eps must be a number"):
        func(eps="big")
    with pytest.raises(TypeError, match="sigma2 must be a number"):
        func(sigma2=object())


@pytest.mark.parametrize("func", [_risk, _surrogate], ids=["adversarial_risk", "surrogate_risk"])
def test_theta_shape_mismatch_and_bad_theta(func):
    with pytest.raises(ValueError, match="theta and theta0 must have the same last dimension"):
        func(theta=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="theta must be finite"):
        func(theta=torch.tensor([math.inf, 0.0]))
    with pytest.raises(ValueError, match="theta contains NaN"):
        func(theta=torch.tensor([math.nan, 0.0]))
    with pytest.raises(ValueError, match="theta must have shape"):
        func(theta=0.3)


@pytest.mark.parametrize("func", [_risk, _surrogate], ids=["adversarial_risk", "surrogate_risk"])
def test_eps_that_does_not_broadcast_with_the_batch_is_refused(func):
    with pytest.raises(ValueError, match=r"eps of shape \(3,\) does not broadcast"):
        func(theta=torch.full((4, 2), 0.1, dtype=torch.float64), eps=torch.ones(3))


def test_surrogate_risk_xi_checks():
    with pytest.raises(ValueError, match="xi must be >= 0"):
        _surrogate(xi=-0.5)
    with pytest.raises(ValueError, match="xi contains NaN"):
        _surrogate(xi=math.nan)
    with pytest.raises(ValueError, match="xi must be a single number"):
        _surrogate(xi=[0.1, 0.2])


def test_robust_optimum_and_threshold_specific_checks():
    with pytest.raises(ValueError, match=r"theta0 must have shape \(d,\)"):
        _optimum(theta0=torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma2 must be a single number"):
        _optimum(sigma2=[1.0, 2.0])
    with pytest.raises(ValueError, match="norm must be one of"):
        robust_threshold(TH0, norm="l3")
    with pytest.raises(ValueError, match="cov must be symmetric"):
        robust_threshold(TH0, cov=NOT_SYMMETRIC)
    with pytest.raises(ValueError, match="sigma2 must be >= 0"):
        residual_scale(TH, TH0, sigma2=-2.0)


def test_norm_aliases_are_canonical():
    for alias in ("l2", "L2", "2", 2, 2.0):
        assert check_norm(alias) == "l2"
    for alias in ("linf", "Linf", "inf", "L∞", math.inf, "l_inf"):
        assert check_norm(alias) == "linf"
    with pytest.raises(TypeError, match="norm"):
        check_norm(True)


def test_gaussian_data_checks():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        gaussian_data(0, TH0)
    with pytest.raises(TypeError, match="n must be an integer"):
        gaussian_data(2.5, TH0)
    with pytest.raises(ValueError, match="sigma2 must be >= 0"):
        gaussian_data(5, TH0, sigma2=-1.0)
    with pytest.raises(ValueError, match="theta0 contains NaN"):
        gaussian_data(5, torch.tensor([math.nan, 1.0]))
    with pytest.raises(ValueError, match=r"theta0 must have shape \(d,\)"):
        gaussian_data(5, torch.ones(2, 2))
    with pytest.raises(ValueError, match="cov must be positive definite"):
        gaussian_data(5, TH0, cov=NOT_PD)
    with pytest.raises(ValueError, match=r"cov must have shape \(2, 2\)"):
        gaussian_data(5, TH0, cov=WRONG_SHAPE)


def test_surrogate_attack_checks():
    model = nn.Linear(2, 1, bias=False).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    y = torch.randn(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        surrogate_attack(model, x, y, -0.1)
    with pytest.raises(ValueError, match="eps contains NaN"):
        surrogate_attack(model, x, y, math.nan)
    with pytest.raises(ValueError, match=r"eps must be a number or a tensor of shape \(4,\)"):
        surrogate_attack(model, x, y, torch.ones(3))
    with pytest.raises(ValueError, match="xi must be >= 0"):
        surrogate_attack(model, x, y, 0.1, xi=-1.0)
    with pytest.raises(ValueError, match="xi must be a single number"):
        surrogate_attack(model, x, y, 0.1, xi=[0.1, 0.2])
    with pytest.raises(ValueError, match="norm must be one of"):
        surrogate_attack(model, x, y, 0.1, norm="l1")
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        surrogate_attack(model, x.long(), y, 0.1)
    with pytest.raises(ValueError, match="x must have shape"):
        surrogate_attack(model, x[0], y, 0.1)
    with pytest.raises(ValueError, match="y must be a tensor with 4 rows"):
        surrogate_attack(model, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="clip must be"):
        surrogate_attack(model, x, y, 0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="loss must return one value per sample"):
        surrogate_attack(model, x, y, 0.1, loss=lambda out, t: ((out.squeeze(-1) - t) ** 2).mean())
    with pytest.raises(ValueError, match="does not match y"):
        surrogate_attack(nn.Linear(2, 3).double(), x, y, 0.1)
