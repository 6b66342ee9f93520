"""robust_optimum / robust_threshold (paper 002, Prop. 8, Thm 9) against independent solvers.

The reference minimiser comes from scipy.optimize (L-BFGS-B from several starts) applied to
the risk written out here in numpy with its hand-derived gradient; for L∞ the ‖θ‖₁ kink is
removed by the smooth split θ = u − w, u, w ≥ 0. The threshold is checked against the
subgradient condition at θ = 0 derived by hand.
"""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from advexplore.linear_risk import adversarial_risk
from advexplore.robust_optimum import robust_optimum, robust_threshold

C0_HAND = math.sqrt(2.0 / math.pi)


def _risk_and_grad(theta, theta0, eps, s2, S, norm):
    """R = s² + ε²q² + 2εc0 q s, s² = (θ−θ0)ᵀS(θ−θ0) + σ², q = ‖θ‖₂ or ‖θ‖₁ (θ with no 0 entry
    for the gradient of ‖θ‖₁, θ ≠ 0 for ‖θ‖₂)."""
    dlt = theta - theta0
    ss = dlt @ S @ dlt + s2
    s = math.sqrt(ss)
    if norm == "l2":
        q = np.linalg.norm(theta)
        dq = theta / q if q > 0 else np.zeros_like(theta)
    else:
        q = np.abs(theta).sum()
        dq = np.sign(theta)
    ds2 = 2 * S @ dlt
    risk = ss + eps**2 * q**2 + 2 * eps * C0_HAND * q * s
    grad = ds2 + 2 * eps**2 * q * dq + 2 * eps * C0_HAND * (dq * s + q * ds2 / (2 * s))
    return risk, grad


def _reference_minimum(theta0, eps, s2, S, norm, seed=0):
    d = len(theta0)
    rng = np.random.default_rng(seed)
    starts = [0.99 * theta0, 0.5 * theta0, rng.standard_normal(d), 0.01 * rng.standard_normal(d)]
    best = None
    opts = dict(ftol=1e-15, gtol=1e-12, maxiter=20000, maxcor=30)
    for x0 in starts:
        if norm == "l2":
            res = minimize(lambda t: _risk_and_grad(t, theta0, eps, s2, S, "l2"), x0, jac=True,
                           method="L-BFGS-B", options=opts)
            theta = res.x
        else:
            # θ = u − w, u, w ≥ 0: ‖θ‖₁ ≤ Σ(u + w), with equality at the minimum
            def f(uw):
                u, w = uw[:d], uw[d:]
                th = u - w
                dlt = th - theta0
                ss = dlt @ S @ dlt + s2
                s = math.sqrt(ss)
                q = uw.sum()
                risk = ss + eps**2 * q**2 + 2 * eps * C0_HAND * q * s
                g_th = 2 * S @ dlt * (1 + eps * C0_HAND * q / s)
                g_q = 2 * eps**2 * q + 2 * eps * C0_HAND * s
                return risk, np.concatenate([g_th + g_q, -g_th + g_q])

            uw0 = np.concatenate([np.maximum(x0, 0), np.maximum(-x0, 0)])
            res = minimize(f, uw0, jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * d),
                           options=opts)
            theta = res.x[:d] - res.x[d:]
        risk = _risk_and_grad(theta, theta0, eps, s2, S, norm)[0]
        if best is None or risk < best[1]:
            best = (theta, risk)
    # θ = 0 is a candidate the smooth solvers approach only asymptotically
    zero_risk = theta0 @ S @ theta0 + s2
    if zero_risk <= best[1]:
        best = (np.zeros(d), zero_risk)
    return best


def _spd(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.3 * np.eye(d)


def _hand_threshold(theta0, s2, S, norm):
    """θ = 0 is optimal iff 0 ∈ ∂R(0) = −2Σθ0 + 2εc0 v·B, B the unit ball of the norm dual to
    ‖·‖_* (‖·‖₂ for L2, ‖·‖_∞ for L∞ where ‖·‖_* = ‖·‖₁), i.e. iff ε ≥ ‖Σθ0‖/(c0 v)."""
    b = S @ theta0
    v = math.sqrt(theta0 @ b + s2)
    return (np.linalg.norm(b) if norm == "l2" else np.abs(b).max()) / (C0_HAND * v)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("instance", range(4))
def test_optimum_matches_generic_optimiser_on_random_instances(norm, instance):
    rng = np.random.default_rng(100 + instance)
    d = 4 if instance < 2 else 6
    S = np.eye(d) if instance == 0 else _spd(d, rng)
    theta0 = rng.standard_normal(d) * 1.5
    s2 = float(rng.uniform(0.2, 2.0))
    eps_c = _hand_threshold(theta0, s2, S, norm)
    eps_grid = np.array([0.05, 0.3, 0.7, 0.95]) * eps_c
    th, risk = robust_optimum(torch.tensor(theta0), torch.tensor(eps_grid), s2,
                              None if instance == 0 else torch.tensor(S), norm)
    assert th.shape == (4, d) and risk.shape == (4,)
    for k, eps in enumerate(eps_grid):
        ref_theta, ref_risk = _reference_minimum(theta0, eps, s2, S, norm, seed=k)
        # the library's risk equals our own evaluation of R at its θ* ...
        own = _risk_and_grad(th[k].numpy(), theta0, eps, s2, S, norm)[0]
        assert risk[k].item() == pytest.approx(own, rel=1e-12)
        # ... and is the minimum found by the generic optimiser
        assert risk[k].item() == pytest.approx(ref_risk, rel=1e-6)
        assert risk[k].item() <= ref_risk * (1 + 1e-9)
        np.testing.assert_allclose(th[k].numpy(), ref_theta, atol=1e-4 * max(1, np.abs(theta0).max()))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_threshold_matches_subgradient_condition_and_zero_beyond(norm):
    rng = np.random.default_rng(7)
    d = 5
    S = _spd(d, rng)
    theta0 = rng.standard_normal(d)
    s2 = 0.5
    eps_c = _hand_threshold(theta0, s2, S, norm)
    got = robust_threshold(torch.tensor(theta0), s2, torch.tensor(S), norm)
    assert got.item() == pytest.approx(eps_c, rel=1e-12)
    th, risk = robust_optimum(torch.tensor(theta0), torch.tensor([1.001 * eps_c, 2 * eps_c, 50.0]),
                              s2, torch.tensor(S), norm)
    assert torch.all(th == 0)  # exactly zero, not merely small
    np.testing.assert_allclose(risk.numpy(), theta0 @ S @ theta0 + s2, rtol=1e-13)
    th_below, risk_below = robust_optimum(torch.tensor(theta0), 0.98 * eps_c, s2, torch.tensor(S), norm)
    assert th_below.abs().max() > 0
    assert risk_below.item() < theta0 @ S @ theta0 + s2
    # just below the threshold the generic optimiser also finds a non-zero minimiser better than 0
    ref_theta, ref_risk = _reference_minimum(theta0, 0.98 * eps_c, s2, S, norm)
    assert np.abs(ref_theta).max() > 0 and ref_risk < theta0 @ S @ theta0 + s2
    # and beyond it no start of the generic optimiser beats θ = 0
    ref_theta2, ref_risk2 = _reference_minimum(theta0, 1.05 * eps_c, s2, S, norm)
    assert ref_risk2 >= theta0 @ S @ theta0 + s2 - 1e-9


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_eps_zero_gives_theta0_and_noise_variance(norm):
    theta0 = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    S = torch.tensor(_spd(3, np.random.default_rng(1)))
    th, risk = robust_optimum(theta0, 0.0, 0.37, S, norm)
    torch.testing.assert_close(th, theta0, rtol=0, atol=0)
    assert risk.item() == pytest.approx(0.37, rel=1e-14)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_paper_example_d10(norm):
    """d = 10, θ0 = 1, σ² = 1, ε = 3: θ* = 0 and R* = v² = 11 (paper 002)."""
    th, risk = robust_optimum(torch.ones(10, dtype=torch.float64), 3.0, 1.0, None, norm)
    assert torch.all(th == 0)
    assert risk.item() == pytest.approx(11.0, rel=1e-14)


def test_l2_identity_path_is_a_decreasing_shrinkage():
    """Σ = I, L2: θ*(ε) = c(ε)θ0 with c decreasing from 1 to 0 (Prop. 8: (1+κ)⁻¹θ0)."""
    theta0 = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    eps_c = _hand_threshold(theta0.numpy(), 1.0, np.eye(4), "l2")
    eps = torch.linspace(0, 1.2 * eps_c, 40, dtype=torch.float64)
    th, risk = robust_optimum(theta0, eps, 1.0, None, "l2")
    c = (th @ theta0) / (theta0 @ theta0)
    torch.testing.assert_close(th, c[:, None] * theta0, rtol=0, atol=1e-12)
    assert c[0].item() == 1.0 and c[-1].item() == 0.0
    assert torch.all(c[1:] <= c[:-1]) and torch.all(c[1:][eps[1:] < eps_c] < c[:-1][eps[1:] < eps_c])
    # the optimal risk increases with ε (more attack, higher minimum) up to v²
    assert torch.all(risk[1:] >= risk[:-1] - 1e-12)
    assert risk[-1].item() == pytest.approx((theta0 @ theta0).item() + 1.0, rel=1e-13)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_optimum_beats_perturbations_and_matches_library_risk(norm):
    """Local optimality independent of scipy: R(θ*) ≤ R(θ* + small random steps)."""
    rng = np.random.default_rng(9)
    S = _spd(5, rng)
    theta0 = rng.standard_normal(5)
    eps = 0.5 * _hand_threshold(theta0, 1.0, S, norm)
    th, risk = robust_optimum(torch.tensor(theta0), eps, 1.0, torch.tensor(S), norm)
    steps = torch.tensor(rng.standard_normal((200, 5)) * 1e-3)
    around = adversarial_risk(th + steps, torch.tensor(theta0), eps, 1.0, torch.tensor(S), norm)
    assert torch.all(around >= risk - 1e-13)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("sigma2", [0.0, 0.8])
def test_zero_truth_has_zero_threshold_and_null_optimum(norm, sigma2):
    """θ0 = 0: R(θ) ≥ σ² = R(0) for every θ, so θ* = 0 at every ε and ε_c = 0 (also when
    σ² = 0 makes v = 0)."""
    theta0 = torch.zeros(3, dtype=torch.float64)
    assert robust_threshold(theta0, sigma2, None, norm).item() == 0.0
    th, risk = robust_optimum(theta0, torch.tensor([0.0, 0.5, 4.0]), sigma2, None, norm)
    assert torch.all(th == 0)
    torch.testing.assert_close(risk, torch.full((3,), sigma2, dtype=torch.float64))


def test_noiseless_l2_and_float32_dtype():
    """σ² = 0 (s can approach 0) still agrees with the generic optimiser; float32 in → out."""
    theta0 = np.array([1.0, 0.5, -0.3])
    eps = 0.4 * _hand_threshold(theta0, 0.0, np.eye(3), "l2")
    th, risk = robust_optimum(torch.tensor(theta0), eps, 0.0, None, "l2")
    ref_theta, ref_risk = _reference_minimum(theta0, eps, 0.0, np.eye(3), "l2")
    assert risk.item() == pytest.approx(ref_risk, rel=1e-6)
    np.testing.assert_allclose(th.numpy(), ref_theta, atol=1e-4)
    th32, r32 = robust_optimum(torch.tensor(theta0, dtype=torch.float32), eps, 0.0)
    assert th32.dtype == torch.float32 and r32.dtype == torch.float32
