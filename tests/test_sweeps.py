"""The batched linear sweep (advexplore.sweeps.linear_sweep): every member follows the
iterates of adversarial_train exactly; the science of Fig. 3 (Thm 5) and Thm 9 on the batch;
bad arguments raise."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from advexplore import adversarial_risk, gaussian_data, robust_optimum
from advexplore.sweeps import linear_sweep
from advexplore.training import adversarial_train


def linear(d, init):
    net = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        net.weight[:] = init
    return net


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_sweep_members_follow_adversarial_train(norm):
    g = torch.Generator().manual_seed(1)
    d = 12
    th0 = torch.zeros(d, dtype=torch.float64)
    th0[:3] = 1
    x, y = map(torch.stack, zip(*[gaussian_data(10, th0, generator=g) for _ in range(2)]))
    grid = dict(eps=[0.0, 0.3], xi=[0.0, 0.5], l1=[0.0, 0.05])
    out = linear_sweep(x, y, th0, lr=0.02, steps=30, norm=norm, theta_init=torch.full((d,), 0.1, dtype=torch.float64), **grid)
    assert out["theta"].shape == (2, 2, 2, 2, d) and out["train_loss"].shape == (2, 2, 2, 2, 30)
    for s in range(2):
        for i, e in enumerate(grid["eps"]):
            for j, xi in enumerate(grid["xi"]):
                for k, lam in enumerate(grid["l1"]):
                    net = linear(d, 0.1)
                    h = adversarial_train(net, x[s], y[s], eps=e, xi=xi, l1=lam, lr=0.02, steps=30, norm=norm)
                    assert torch.allclose(net.weight[0], out["theta"][s, i, j, k], atol=1e-12)
                    assert np.allclose(h.train_loss, out["train_loss"][s, i, j, k].numpy(), atol=1e-10)
                    risk = adversarial_risk(net.weight[0].detach(), th0, e, norm=norm)
                    assert out["test_risk"][s, i, j, k, -1].item() == pytest.approx(risk.item(), rel=1e-10)


@pytest.mark.slow
def test_f3_high_dimensional_interpolation():
    """Fig. 3 / Thm 5 (n=20, d=1000, θ0 = first 10 ones, zero init, ξ=0.5, lr=0.001):
    the training loss goes to ~0 while the adversarial test risk goes to ≈ v² = 11."""
    g = torch.Generator().manual_seed(0)
    d, n = 1000, 20
    th0 = torch.zeros(d, dtype=torch.float64)
    th0[:10] = 1
    x, y = map(torch.stack, zip(*[gaussian_data(n, th0, generator=g) for _ in range(10)]))
    out = linear_sweep(x, y, th0, eps=[0.0, 0.01, 0.1], xi=0.5, lr=0.001, steps=1500, record_every=50)
    v2 = 11.0
    final_train = out["train_loss"][..., -1]
    final_test = out["test_risk"][..., -1].mean(0)  # mean over seeds
    assert final_train.max() < 0.02 * v2
    assert torch.allclose(final_test, torch.full_like(final_test, v2), rtol=0.05)


def test_lasso_lowers_excess_risk_on_sparse_high_dimensional_problem():
    """Thm 9: with sparse θ0 (Σ=I), the L1 penalty brings R_L(θ̂) closer to R*."""
    g = torch.Generator().manual_seed(2)
    d, n, s = 200, 100, 3
    th0 = torch.zeros(d, dtype=torch.float64)
    th0[:s] = 1
    x, y = map(torch.stack, zip(*[gaussian_data(n, th0, generator=g) for _ in range(4)]))
    eps = 0.3
    lam = math.sqrt(s * math.log(d) / n)
    out = linear_sweep(x, y, th0, eps=eps, xi=0.05, l1=[0.0, lam], lr=0.01, steps=1500, record_every=100)
    _, r_star = robust_optimum(th0, eps)
    excess = out["test_risk"][..., -1].mean(0).reshape(-1) - r_star  # [no LASSO, LASSO]
    assert excess[1] < 0.5 * excess[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-0.1), "eps"),
    (dict(xi=[0.1, -1.0]), "xi"),
    (dict(l1=-0.5), "l1"),
    (dict(eps=[]), "eps"),
    (dict(lr=0.0), "lr"),
    (dict(steps=0), "steps"),
    (dict(norm="l1"), "norm"),
    (dict(record_every=0), "record_every"),
])
def test_sweep_bad_arguments_name_the_argument(kwargs, match):
    th0 = torch.ones(3, dtype=torch.float64)
    x, y = gaussian_data(5, th0, generator=torch.Generator().manual_seed(0))
    args = dict(eps=0.1, lr=0.01, steps=2) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        linear_sweep(x, y, th0, **args)


def test_sweep_shape_mismatches_raise():
    th0 = torch.ones(3, dtype=torch.float64)
    x, y = gaussian_data(5, th0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="y"):
        linear_sweep(x, y[:4], th0, eps=0.1, lr=0.01, steps=2)
    with pytest.raises(ValueError, match="theta0"):
        linear_sweep(x, y, torch.ones(4, dtype=torch.float64), eps=0.1, lr=0.01, steps=2)
