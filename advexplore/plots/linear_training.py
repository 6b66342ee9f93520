"""Figures of the linear training experiments (notebooks 02–05)."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

import numpy as np

from .style import PALETTE, apply_style, grid_axis, log_axis


def _band(fig, x, mean, sd, name, color, row=None, col=None, dash=None, showlegend=True):
    x, mean, sd = list(map(float, x)), list(map(float, mean)), list(map(float, sd))
    kw = dict(row=row, col=col) if row else {}
    fig.add_trace(go.Scatter(x=x + x[::-1], y=[m + s for m, s in zip(mean, sd)] +
                             [m - s for m, s in zip(mean, sd)][::-1], fill="toself", mode="lines", line=dict(width=0),
                             fillcolor=color, opacity=0.2, hoverinfo="skip", showlegend=False), **kw)
    fig.add_trace(go.Scatter(x=x, y=mean, name=name, line=dict(color=color, dash=dash),
                             showlegend=showlegend), **kw)


def smoothing_figure(result: dict) -> go.Figure:
    """Fig. 1. Left: adversarial training loss (dashed) and exact adversarial test risk (solid)
    per ξ, log axis. Right: the late iterations (second half) of the test risk's excess over R*,
    R_L(θ_t, ε) − R*, on a log axis: near R* the whole curve is a few per cent of R*, so this is
    where the plain attack's jumps (ξ = 0) and the surrogate's smooth descent (ξ > 0) are seen."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.12,
                        subplot_titles=("loss under attack", "late iterations: test risk − R*"))
    steps = result["steps"].tolist()
    late = len(steps) // 2
    r_star = result["r_star"]
    excess_values = []
    for i, xi in enumerate(result["xis"]):
        c = PALETTE[i % len(PALETTE)]
        test = result["test_risk"][i].tolist()
        fig.add_trace(go.Scatter(x=steps, y=test, name=f"test R_L, ξ={xi:g}", line=dict(color=c)), row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=result["train_loss"][i].tolist(), name=f"train, ξ={xi:g}",
                                 line=dict(color=c, dash="dash")), row=1, col=1)
        excess = [max(v - r_star, 1e-12) for v in test[late:]]  # ≥ 0: R* is the minimum
        excess_values += excess
        fig.add_trace(go.Scatter(x=steps[late:], y=excess, name=f"test R_L − R*, ξ={xi:g}", line=dict(color=c),
                                 showlegend=False), row=1, col=2)
    # R* as a trace, since plotly puts an hline's label off a log axis
    fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[r_star] * 2, mode="lines",
                             name="R* (minimal adversarial risk)", line=dict(color="#444", dash="dot", width=1.5)),
                  row=1, col=1)
    values = [r_star] + [v for i in range(len(result["xis"])) for key in ("test_risk", "train_loss")
                         for v in result[key][i].tolist()]
    fig.update_xaxes(title="iteration t")
    fig.update_yaxes(title="squared loss under attack", row=1, col=1, **log_axis(values, pixels=250))
    fig.update_yaxes(title="excess adversarial risk", row=1, col=2, **log_axis(excess_values, pixels=250))
    return apply_style(fig, "Surrogate attack smooths adversarial training (paper 002, Fig. 1)")


def convergence_figure(result: dict) -> go.Figure:
    """Thm 2: excess risk and distance to θ* vs n (log–log), mean ± sd over repetitions."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("R_L(θ_T, ε) − R*", "‖θ_T − θ*‖"))
    _band(fig, result["ns"], result["excess_risk_mean"], result["excess_risk_sd"], "excess risk",
          PALETTE[0], 1, 1)
    _band(fig, result["ns"], result["distance_mean"], result["distance_sd"], "distance to θ*",
          PALETTE[1], 1, 2)
    fig.update_xaxes(title="sample size n", **grid_axis(result["ns"]))
    for col, key, title in ((1, "excess_risk", "excess adversarial risk"), (2, "distance", "Euclidean distance")):
        mean, sd = np.asarray(result[f"{key}_mean"], float), np.asarray(result[f"{key}_sd"], float)
        fig.update_yaxes(title=title, row=1, col=col, **log_axis(np.concatenate([mean, mean + sd, mean - sd])))
    return apply_style(fig, "Low-dimensional convergence to the robust optimum (Thm 2)")


def interpolation_figure(result: dict) -> go.Figure:
    """Fig. 3: training loss → 0 (left) while the adversarial test risk → v² (right)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("surrogate adversarial training loss",
                                                        "adversarial test risk R_L(θ_t, ε)"))
    steps = result["steps"].tolist()
    for i, eps in enumerate(result["eps"]):
        c = PALETTE[i % len(PALETTE)]
        _band(fig, steps, result["train_mean"][i], result["train_sd"][i], f"ε={eps:g}", c, 1, 1)
        _band(fig, steps, result["test_mean"][i], result["test_sd"][i], f"ε={eps:g}", c, 1, 2,
              showlegend=False)
    fig.add_hline(y=result["v2"], line_dash="dot", annotation_text="v² (null model θ=0)", row=1, col=2)
    fig.update_xaxes(title="iteration t")
    fig.update_yaxes(title="squared loss on attacked training points", row=1, col=1)
    fig.update_yaxes(title="exact adversarial risk (eq. 5)", row=1, col=2)
    return apply_style(fig, "High-dimensional interpolation: mean ± sd over repetitions (Fig. 3, Thm 5)")


def lasso_figure(result: dict) -> go.Figure:
    """Thm 9: excess adversarial risk vs n without and with the L1 penalty."""
    fig = go.Figure()
    for j, name in enumerate(["no penalty", "LASSO λ ≍ √(s log d / n)"]):
        _band(fig, result["ns"], result["excess_mean"][:, j], result["excess_sd"][:, j], name, PALETTE[j])
    fig.update_xaxes(title="sample size n", **grid_axis(result["ns"]))
    fig.update_yaxes(title="excess risk R_L(θ̂, ε) − R*")
    return apply_style(fig, "LASSO restores consistency in high dimension (Thm 9)")
