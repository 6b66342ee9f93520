"""Notebook 01 headless with changed parameters, checked against independent computations,
and its widget driven headless (slider value -> figure data)."""
import math

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.notebook
C0 = math.sqrt(2 / math.pi)


@pytest.mark.parametrize("params", [dict(d=5, eps=0.5, norm="linf", theta0_norm=2.0),
                                    dict(d=10, eps=0.8, norm="l2", sigma2=0.5)])
def test_notebook_01_headless(run_notebook, params):
    r = run_notebook("01_linear_adversarial_risk", **params)
    d, eps, norm = params["d"], params["eps"], params["norm"]
    s2, a = params.get("sigma2", 1.0), params.get("theta0_norm", 3.0)
    v2 = a * a + s2
    assert r["v2"] == pytest.approx(v2, rel=1e-12)
    # ε_c by the subgradient condition at 0: ‖θ0‖_dual-side = c0·v·ε (θ0 uniform)
    big = a if norm == "l2" else a / math.sqrt(d)
    assert r["eps_c"] == pytest.approx(big / (C0 * math.sqrt(v2)), rel=1e-12)
    # Monte Carlo of the exactly attacked loss (|r| + ε‖θ*‖_*)² at the reported θ* = t*·θ0
    theta = r["t_star"] * np.full(d, a / math.sqrt(d))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400_000, d))
    y = x @ np.full(d, a / math.sqrt(d)) + math.sqrt(s2) * rng.standard_normal(400_000)
    dual = np.linalg.norm(theta) if norm == "l2" else np.abs(theta).sum()
    loss = (np.abs(x @ theta - y) + eps * dual) ** 2
    assert abs(loss.mean() - r["r_star"]) < 5 * loss.std() / math.sqrt(len(loss))
    # brute force along the path with eq. 5/9 written out by hand (θ* lies on the path: Σ = I,
    # θ0 uniform), and R* ≤ that minimum (R* is the global minimum)
    t = np.linspace(0.0, 1.2, 120_001)
    tn = t * a * (1.0 if norm == "l2" else math.sqrt(d))  # ‖tθ0‖_* (‖·‖₁ = √d‖·‖₂ here)
    s = np.sqrt((t - 1) ** 2 * a * a + s2)
    hand = s**2 + eps**2 * tn**2 + 2 * eps * C0 * tn * s
    assert r["r_star"] <= hand.min() + 1e-9
    assert r["r_star"] == pytest.approx(hand.min(), rel=1e-6)
    assert r["t_star"] == pytest.approx(t[hand.argmin()], abs=1e-3)
    # R*(ε) = v² exactly beyond ε_c, and below v² before it
    e, rs = np.array(r["eps_grid"]), np.array(r["risk_star"])
    assert np.allclose(rs[e > r["eps_c"]], v2, rtol=1e-9)
    assert (rs[e < 0.9 * r["eps_c"]] < v2).all()
    # exact curve of the third panel by hand; the surrogate attack is weaker: R_{L,ξ} ≤ R_L
    ts = np.array(r["t_surrogate"])
    tsn = ts * a * (1.0 if norm == "l2" else math.sqrt(d))
    ss = np.sqrt((ts - 1) ** 2 * a * a + s2)
    assert np.allclose(r["exact"], ss**2 + eps**2 * tsn**2 + 2 * eps * C0 * tsn * ss, rtol=1e-12)
    assert (np.array(r["surrogate"]) <= np.array(r["exact"]) + 1e-9).all()


def test_notebook_01_surrogate_vs_monte_carlo(run_notebook):
    """R_{L,ξ} of the third panel vs the loss under the surrogate attack of §2.1, sampled:
    δ = ε·g/√(‖g‖²+ξ²) (L2), g = 2rθ the input gradient of (θᵀx − y)²."""
    d, a, eps, xi = 3, 2.0, 0.7, 0.5
    r = run_notebook("01_linear_adversarial_risk", d=d, theta0_norm=a, eps=eps, xi=xi)
    i = len(r["t_surrogate"]) // 2
    theta0 = np.full(d, a / math.sqrt(d))
    theta = r["t_surrogate"][i] * theta0
    rng = np.random.default_rng(1)
    n = 400_000
    x = rng.standard_normal((n, d))
    y = x @ theta0 + rng.standard_normal(n)
    res = x @ theta - y
    g = 2 * res[:, None] * theta                                   # (n, d) input gradients
    delta = eps * g / np.sqrt((g * g).sum(1) + xi * xi)[:, None]
    loss = ((x + delta) @ theta - y) ** 2
    assert abs(loss.mean() - r["surrogate"][i]) < 5 * loss.std() / math.sqrt(n)
    assert r["surrogate"][i] < r["exact"][i]


def test_linear_widget_redraws_on_slider_change():
    from advexplore import adversarial_risk
    from advexplore.experiments.linear_adversarial_risk import uniform_theta0
    from advexplore.widgets.linear_adversarial_risk import LinearRiskExplorer

    w = LinearRiskExplorer(eps=0.5, d=4, theta0_norm=2.0)
    before = np.array(w.figure.data[0].y)
    w.controls["eps"].value = 1.5  # as a user would: fires the observer
    after = np.array(w.figure.data[0].y)
    assert not np.allclose(before, after)
    theta0 = uniform_theta0(4, 2.0)
    t = torch.tensor(w.figure.data[0].x, dtype=torch.float64)
    # eq. 5 by hand at each path point t·θ0 (Σ = I, σ² = 1)
    tn = t * 2.0
    s = torch.sqrt((t - 1) ** 2 * 4.0 + 1.0)
    expected = s**2 + 1.5**2 * tn**2 + 2 * 1.5 * C0 * tn * s
    assert np.allclose(after, expected.numpy(), rtol=1e-12)
    assert np.allclose(after, adversarial_risk(t[:, None] * theta0, theta0, 1.5).numpy())
    # the ε_c line of the middle panel sits at ‖θ0‖/(c0·v) (v² = ‖θ0‖² + σ²), and moves to
    # ‖θ0‖_∞/(c0·v) = ‖θ0‖/(√d·c0·v) with the L∞ toggle
    from advexplore.plots.linear_adversarial_risk import TRACES
    eps_c = w.figure.data[TRACES.index("eps_c")]
    assert eps_c.x[0] == pytest.approx(2.0 / (C0 * math.sqrt(5.0)), rel=1e-12)
    w.update(norm="linf")
    assert not np.allclose(np.array(w.figure.data[0].y), after)
    assert eps_c.x[0] == pytest.approx(2.0 / (2 * C0 * math.sqrt(5.0)), rel=1e-12)
    with pytest.raises(ValueError, match="unknown control"):
        w.update(epsilon=1.0)
