"""Notebooks 02–05 run headless with small parameters; the numbers they saved are checked
against independent computations (closed forms of paper 002, robust_optimum brute-forced)."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

pytestmark = pytest.mark.notebook
C0 = math.sqrt(2 / math.pi)


def test_02_surrogate_smoothing(run_notebook):
    r = run_notebook("02_surrogate_smoothing", steps=500)
    assert r["rises_xi"] == 0 and r["rises_xi0"] > 5  # Fig. 1: smooth vs fluctuating
    # ε = 3 ≥ ε_c = ‖θ0‖/(c0 v): θ* = 0 and R* = v² = ‖θ0‖² + σ² = 11 (by hand)
    assert r["r_star"] == pytest.approx(11.0, rel=1e-12) and r["v2"] == pytest.approx(11.0)
    assert r["final_test_risk"][1] == pytest.approx(11.0, rel=0.02)


def test_03_low_dim_convergence(run_notebook):
    r = run_notebook("03_low_dim_convergence", ns=[30, 300], reps=3, steps=300, eps=0.5)
    # R* for Σ = I, θ0 = 1 (d = 10): θ* = cθ0, minimise eq. 5 over c by a scalar search
    d, eps = 10, 0.5
    f = lambda c: d * (c - 1) ** 2 + 1 + eps**2 * c**2 * d + 2 * eps * C0 * c * math.sqrt(d) * math.sqrt(d * (c - 1) ** 2 + 1)
    assert r["r_star"] == pytest.approx(minimize_scalar(f, bounds=(0, 1), method="bounded",
                                                        options={"xatol": 1e-12}).fun, rel=1e-8)
    assert r["excess_risk"][1] < r["excess_risk"][0] and r["distance"][1] < r["distance"][0]


def test_04_high_dim_interpolation(run_notebook):
    r = run_notebook("04_high_dim_interpolation", d=400, reps=6, steps=1000)
    assert r["v2"] == pytest.approx(11.0)  # ‖θ0‖² + σ² with 10 ones
    assert max(r["final_train"]) < 0.05 * 11.0
    assert np.allclose(r["final_test"], 11.0, rtol=0.1)


def test_05_lasso(run_notebook):
    r = run_notebook("05_lasso", ns=[25, 100], d=200, reps=2, steps=400)
    assert r["excess_lasso"][-1] < r["excess_plain"][-1]
    assert min(r["excess_plain"] + r["excess_lasso"]) > -1e-9
