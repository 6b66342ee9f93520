"""adversarial_risk (paper 002, eq. 5 and 9) and gaussian_data against independent computations.

The reference risks are Monte Carlo averages of the attacked squared loss, where the inner
maximisation over the ε-ball is done by brute force (every vertex of the L∞ ball, a fine
grid of the L2 circle) on data drawn here with numpy, not with the library. Tolerances
come from the Monte Carlo standard error (5 SE).
"""
import itertools
import math

import numpy as np
import pytest
import torch

from advexplore.data.synthetic import gaussian_data
from advexplore.linear_risk import adversarial_risk

C0_HAND = math.sqrt(2.0 / math.pi)


def _spd(d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


def _residuals(theta, theta0, sigma2, cov, n, seed):
    """(x, r) with x ~ N(0, Σ), y = θ0ᵀx + e, r = θᵀx − y, drawn with numpy."""
    rng = np.random.default_rng(seed)
    d = len(theta0)
    z = rng.standard_normal((n, d))
    x = z if cov is None else z @ np.linalg.cholesky(cov).T
    y = x @ theta0 + math.sqrt(sigma2) * rng.standard_normal(n)
    return x, x @ theta - y


def _brute_force_max_linf(r, theta, eps):
    """max over the vertices of the L∞ ball of (r + θᵀδ)²: a convex function of δ
    attains its maximum over a polytope at a vertex."""
    d = len(theta)
    vertices = np.array(list(itertools.product((-1.0, 1.0), repeat=d)))  # (2^d, d)
    shifts = eps * vertices @ theta  # (2^d,)
    return ((r[:, None] + shifts[None, :]) ** 2).max(axis=1)


def _brute_force_max_l2_2d(r, theta, eps, points=3600):
    """max over a fine grid of the circle ‖δ‖₂ = ε (d = 2) of (r + θᵀδ)²."""
    ang = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    dirs = np.stack([np.cos(ang), np.sin(ang)], axis=1)  # (P, 2)
    shifts = eps * dirs @ theta
    out = np.empty_like(r)
    for i in range(0, len(r), 1000):  # chunks keep memory small
        out[i:i + 1000] = ((r[i:i + 1000, None] + shifts[None, :]) ** 2).max(axis=1)
    return out


def _mc(values):
    return values.mean(), values.std(ddof=1) / math.sqrt(len(values))


COV3 = _spd(3, 1)


@pytest.mark.parametrize("cov", [None, COV3], ids=["identity", "spd"])
@pytest.mark.parametrize("theta", [[0.7, -0.2, 0.0], [1.5, 1.0, -2.0], [0.0, 0.0, 0.0]])
@pytest.mark.parametrize("eps", [0.0, 0.3, 1.2])
def test_linf_risk_equals_monte_carlo_of_brute_force_attack(cov, theta, eps):
    theta0 = np.array([1.0, -0.5, 0.25])
    theta = np.array(theta)
    sigma2 = 0.6
    _, r = _residuals(theta, theta0, sigma2, cov, 20000, seed=hash((eps, tuple(theta))) % 2**32)
    mean, se = _mc(_brute_force_max_linf(r, theta, eps))
    got = adversarial_risk(torch.tensor(theta), torch.tensor(theta0), eps, sigma2,
                           None if cov is None else torch.tensor(cov), norm="linf")
    assert got.dtype == torch.float64 and got.shape == ()
    assert abs(got.item() - mean) < 5 * se


COV2 = np.array([[2.0, 0.6], [0.6, 0.5]])


@pytest.mark.parametrize("cov", [None, COV2], ids=["identity", "spd"])
@pytest.mark.parametrize("theta", [[0.8, -0.4], [-1.0, 2.0]])
@pytest.mark.parametrize("eps", [0.0, 0.5, 2.0])
def test_l2_risk_equals_monte_carlo_of_brute_force_attack(cov, theta, eps):
    theta0 = np.array([1.0, 0.5])
    theta = np.array(theta)
    sigma2 = 1.3
    _, r = _residuals(theta, theta0, sigma2, cov, 6000, seed=int(10 * eps) + 7)
    mean, se = _mc(_brute_force_max_l2_2d(r, theta, eps))
    got = adversarial_risk(torch.tensor(theta), torch.tensor(theta0), eps, sigma2,
                           None if cov is None else torch.tensor(cov), norm="l2")
    assert abs(got.item() - mean) < 5 * se


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_risk_in_higher_dimension_vs_monte_carlo_of_dual_norm_attack(norm):
    """d = 8, Σ non-identity: the exact attack shifts |r| by ε‖θ‖_* (Hölder equality case);
    its Monte Carlo mean on 200 000 draws matches the closed form."""
    d = 8
    rng = np.random.default_rng(3)
    cov = _spd(d, 5)
    theta0, theta = rng.standard_normal(d), rng.standard_normal(d) * 0.5
    eps, sigma2 = 0.4, 0.8
    x, r = _residuals(theta, theta0, sigma2, cov, 200000, seed=11)
    # the maximiser of (r + θᵀδ)² in the ball, written out and evaluated as a loss
    if norm == "l2":
        delta = eps * np.sign(r)[:, None] * theta / np.linalg.norm(theta)
    else:
        delta = eps * np.sign(r)[:, None] * np.sign(theta)
    assert np.all(np.abs(delta).max(1) <= eps + 1e-12) if norm == "linf" else \
        np.allclose(np.linalg.norm(delta, axis=1), eps)
    mean, se = _mc((r + delta @ theta) ** 2)
    got = adversarial_risk(torch.tensor(theta), torch.tensor(theta0), eps, sigma2,
                           torch.tensor(cov), norm=norm)
    assert abs(got.item() - mean) < 5 * se


def test_eps_zero_is_the_mean_squared_residual_in_closed_form():
    """ε = 0: R = ‖θ−θ0‖²_Σ + σ², computed here by hand, for both norms."""
    cov = COV3
    theta0, theta = np.array([1.0, 2.0, -1.0]), np.array([0.3, -0.1, 0.4])
    expected = (theta - theta0) @ cov @ (theta - theta0) + 0.7
    for norm in ("l2", "linf"):
        got = adversarial_risk(torch.tensor(theta), torch.tensor(theta0), 0.0, 0.7,
                               torch.tensor(cov), norm=norm)
        assert got.item() == pytest.approx(expected, rel=1e-12)


def test_paper_example_null_model_risk_is_v_squared():
    """θ = 0 removes the attack: R = ‖θ0‖² + σ² = 11 for θ0 = 1 ∈ R^10 at any ε."""
    for eps in (0.0, 3.0, 100.0):
        got = adversarial_risk(torch.zeros(10, dtype=torch.float64),
                               torch.ones(10, dtype=torch.float64), eps, 1.0)
        assert got.item() == pytest.approx(11.0, rel=1e-14)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_broadcast_batch_of_theta_against_eps_grid(norm):
    gen = torch.Generator().manual_seed(0)
    thetas = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    theta0 = torch.randn(4, generator=gen, dtype=torch.float64)
    cov = torch.tensor(_spd(4, 2))
    eps = torch.tensor([0.0, 0.1, 0.7], dtype=torch.float64).reshape(3, 1)
    table = adversarial_risk(thetas, theta0, eps, 0.5, cov, norm)
    assert table.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            single = adversarial_risk(thetas[j], theta0, eps[i, 0].item(), 0.5, cov, norm)
            assert table[i, j].item() == pytest.approx(single.item(), rel=1e-13)
    # a batch with a scalar ε keeps the batch shape; a (m,) ε against (m, d) pairs elementwise
    assert adversarial_risk(thetas, theta0, 0.2, 0.5, cov, norm).shape == (5,)
    paired = adversarial_risk(thetas, theta0, torch.linspace(0, 1, 5, dtype=torch.float64),
                              0.5, cov, norm)
    assert paired.shape == (5,)
    assert paired[3].item() == pytest.approx(
        adversarial_risk(thetas[3], theta0, 0.75, 0.5, cov, norm).item(), rel=1e-13)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("cov", [None, COV3], ids=["identity", "spd"])
def test_gradient_in_theta_matches_central_finite_differences(norm, cov):
    """Autograd through the closed form vs central differences (float64, θ away from 0
    and from the kinks of ‖θ‖₁)."""
    theta0 = torch.tensor([1.0, -0.5, 0.25], dtype=torch.float64)
    cov_t = None if cov is None else torch.tensor(cov)
    for theta_list in ([0.4, 0.3, -0.6], [2.0, -1.5, 0.2]):
        theta = torch.tensor(theta_list, dtype=torch.float64, requires_grad=True)
        risk = adversarial_risk(theta, theta0, 0.6, 0.9, cov_t, norm)
        (grad,) = torch.autograd.grad(risk, theta)
        h = 1e-6
        fd = torch.empty(3, dtype=torch.float64)
        for i in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[i] = h
            with torch.no_grad():
                fd[i] = (adversarial_risk(theta + e, theta0, 0.6, 0.9, cov_t, norm)
                         - adversarial_risk(theta - e, theta0, 0.6, 0.9, cov_t, norm)) / (2 * h)
        torch.testing.assert_close(grad, fd, rtol=1e-7, atol=1e-8)


def test_gaussian_data_moments_match_the_model():
    """Sample mean, covariance of x and the residual variance y − θ0ᵀx vs Σ and σ² within
    5 standard errors (the SE of a covariance entry is √((Σ_ii Σ_jj + Σ_ij²)/n))."""
    n, d = 40000, 3
    cov = torch.tensor(COV3)
    theta0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x, y = gaussian_data(n, theta0, 0.49, cov, generator=torch.Generator().manual_seed(4))
    assert x.shape == (n, d) and y.shape == (n,) and x.dtype == torch.float64
    c = COV3
    se_mean = np.sqrt(np.diag(c) / n)
    assert np.all(np.abs(x.mean(0).numpy()) < 5 * se_mean)
    emp = (x.T @ x / n).numpy()
    se_cov = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / n)
    assert np.all(np.abs(emp - c) < 5 * se_cov)
    resid = (y - x @ theta0).numpy()
    # Var of a sample variance of N(0, σ²) is 2σ⁴/n
    assert abs(resid.var() - 0.49) < 5 * math.sqrt(2 * 0.49**2 / n)
    assert abs(resid.mean()) < 5 * math.sqrt(0.49 / n)
    # the residual is independent of x: correlation within 5/√n
    corr = np.corrcoef(np.c_[x.numpy(), resid], rowvar=False)[-1, :-1]
    assert np.all(np.abs(corr) < 5 / math.sqrt(n))


def test_gaussian_data_identity_and_noiseless():
    theta0 = torch.tensor([0.5, 0.5], dtype=torch.float64)
    x, y = gaussian_data(20000, theta0, 0.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(y, x @ theta0)  # σ² = 0: no noise
    emp = (x.T @ x / 20000).numpy()
    assert np.all(np.abs(emp - np.eye(2)) < 5 * np.sqrt((1 + np.eye(2)) / 20000))


def test_gaussian_data_is_reproducible_with_a_seeded_generator():
    theta0 = torch.ones(4, dtype=torch.float64)
    a = gaussian_data(50, theta0, generator=torch.Generator().manual_seed(7))
    b = gaussian_data(50, theta0, generator=torch.Generator().manual_seed(7))
    c = gaussian_data(50, theta0, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    x32, y32 = gaussian_data(5, torch.ones(2, dtype=torch.float32))
    assert x32.dtype == torch.float32 and y32.dtype == torch.float32
