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
    assert r["r_star"] <= r["brute_force_min"] + 1e-9


def test_linear_widget_redraws_on_slider_change():
    from advexplore import adversarial_risk
    from advexplore.linear_views import uniform_theta0
    from advexplore.widgets.linear_explorer import LinearRiskExplorer

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
    w.update(norm="linf")
    assert not np.allclose(np.array(w.figure.data[0].y), after)
    with pytest.raises(ValueError, match="unknown control"):
        w.update(epsilon=1.0)
