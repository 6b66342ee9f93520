"""Notebooks 02–05 run headless with small parameters; the numbers they saved are checked
against independent computations: the closed-form adversarial risk of paper 002 (eq. 5) written
out here at the saved θ, R* by a scalar search along θ = cθ0, rising steps counted by hand."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

pytestmark = pytest.mark.notebook
C0 = math.sqrt(2 / math.pi)


def risk_eq5(theta, theta0, eps, sigma2=1.0):
    """R_L(θ, ε) of paper 002, eq. 5 (Σ = I), by hand, over the last axis of theta."""
    theta = np.asarray(theta, float)
    s = np.sqrt(((theta - theta0) ** 2).sum(-1) + sigma2)
    t = np.linalg.norm(theta, axis=-1)
    return s**2 + eps**2 * t**2 + 2 * eps * C0 * t * s


def r_star_on_path(norm0_sq: float, eps: float, sigma2: float = 1.0):
    """(c*, R*) for θ* = c θ0 (Σ = I: θ* is a shrinkage of θ0, Prop. 8), ‖θ0‖² = norm0_sq."""
    a = math.sqrt(norm0_sq)
    f = lambda c: a * a * (c - 1) ** 2 + sigma2 + eps**2 * c * c * a * a + 2 * eps * C0 * c * a * math.sqrt(a * a * (c - 1) ** 2 + sigma2)
    best = minimize_scalar(f, bounds=(0, 1), method="bounded", options={"xatol": 1e-12})
    return (0.0, f(0.0)) if f(0.0) <= best.fun else (best.x, best.fun)


def test_02_surrogate_smoothing(run_notebook):
    r = run_notebook("02_surrogate_smoothing", steps=500)
    # Fig. 1: the training loss rises again and again with ξ = 0, never with ξ = 0.05 (counted by hand)
    rises = [int(np.sum(np.diff(curve) > 1e-9)) for curve in r["train_loss"]]
    assert r["xis"] == [0.0, 0.05] and [r["rises_xi0"], r["rises_xi"]] == rises
    assert rises[0] > 5
    # ε = 3 ≥ ε_c = ‖θ0‖/(c0 v): θ* = 0 and R* = v² = ‖θ0‖² + σ² = 11 (by hand)
    assert r["r_star"] == pytest.approx(11.0, rel=1e-12) and r["v2"] == pytest.approx(11.0)
    # the saved test risks are eq. 5 at the final θ, and the smooth run ends near R*
    theta0 = np.ones(10)
    assert np.allclose(r["final_test_risk"], risk_eq5(r["theta"], theta0, 3.0), rtol=1e-10)
    assert r["final_test_risk"][1] == pytest.approx(11.0, rel=0.02)


def test_03_low_dim_convergence(run_notebook):
    ns, reps, eps = [30, 300], 3, 0.5
    r = run_notebook("03_low_dim_convergence", ns=ns, reps=reps, steps=300, eps=eps)
    d = 10
    c_star, r_star = r_star_on_path(d, eps)
    assert r["r_star"] == pytest.approx(r_star, rel=1e-8)
    theta = np.array(r["theta"])  # (n, rep, d)
    assert theta.shape == (2, reps, d)
    # excess risk and distance to θ* = c*·1 by hand from the final θ of every repetition
    assert np.allclose(r["excess_risk"], (risk_eq5(theta, np.ones(d), eps) - r_star).mean(1), rtol=1e-8, atol=1e-10)
    assert np.allclose(r["distance"], np.linalg.norm(theta - c_star, axis=-1).mean(1), rtol=1e-5, atol=1e-8)


def test_04_high_dim_interpolation(run_notebook):
    d, reps, eps = 400, 6, [0.0, 0.01, 0.1]
    r = run_notebook("04_high_dim_interpolation", d=d, reps=reps, steps=1000)
    assert r["v2"] == pytest.approx(11.0)  # ‖θ0‖² + σ² with 10 ones
    theta0 = np.zeros(d)
    theta0[:10] = 1.0
    theta = np.array(r["theta"])  # (rep, ε, d)
    risks = np.stack([risk_eq5(theta[:, k], theta0, e) for k, e in enumerate(eps)], axis=1)  # (rep, ε)
    assert np.allclose(r["final_test"], risks.mean(0), rtol=1e-8)
    # Lemma 1: the interpolating θ is small, ‖θ‖ = O(√(n/d))·v, so every risk is near v² = 11
    assert (np.linalg.norm(theta, axis=-1) < 3 * math.sqrt(20 / d) * math.sqrt(11.0)).all()


def test_05_lasso(run_notebook):
    ns, d, s, reps, eps = [25, 100], 200, 5, 2, 0.3
    r = run_notebook("05_lasso", ns=ns, d=d, reps=reps, steps=400)
    theta0 = np.zeros(d)
    theta0[:s] = 1.0
    _, r_star = r_star_on_path(s, eps)
    assert r["r_star"] == pytest.approx(r_star, rel=1e-8)
    assert r["lambdas"] == pytest.approx([math.sqrt(s * math.log(d) / n) for n in ns])  # Thm 9's rate
    theta = np.array(r["theta"])  # (n, rep, [plain, LASSO], d)
    excess = (risk_eq5(theta, theta0, eps) - r_star).mean(1)  # (n, 2)
    assert np.allclose(r["excess_plain"], excess[:, 0], rtol=1e-8) and np.allclose(r["excess_lasso"], excess[:, 1], rtol=1e-8)
    # the soft-threshold step leaves exact zeros off the support; plain gradient descent does not
    zeros = (theta[..., s:] == 0).mean(-1)  # (n, rep, 2)
    assert (zeros[..., 1] > 0.5).all() and (zeros[..., 0] == 0).all()
