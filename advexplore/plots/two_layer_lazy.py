"""Figures of notebooks/07_two_layer_lazy (paper 002 Thm 3/4 and 6/7). Inputs are the dicts of
advexplore.experiments.two_layer_lazy; nothing is computed here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style, grid_axis


def lazy_convergence_figure(grids: dict, title: str | None = None) -> go.Figure:
    """(R_{N,ξ} − R*)/v² against the width h, one line per (activation, n): the excess over
    the linear optimum shrinks to 0 as n and h grow (Thm 3 smooth φ, Thm 4 ReLU)."""
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    for a, (activation, grid) in enumerate(grids.items()):
        for i, n in enumerate(grid["n_values"]):
            fig.add_trace(go.Scatter(x=grid["h_values"], y=grid["excess"][i], mode="lines+markers",
                                     name=f"{activation}, n = {n}",
                                     line=dict(color=PALETTE[i % len(PALETTE)], dash=dashes[a % 4])))
    fig.add_hline(y=0.0, line=dict(color="#444", dash="dot"), annotation_text="R* (best linear model)")
    h_values = [h for grid in grids.values() for h in grid["h_values"]]
    fig.update_xaxes(title_text="hidden units h", **grid_axis(h_values))
    fig.update_yaxes(title_text="(R_N,ξ(θ_T) − R*) / v²<br>test risk, surrogate attack")
    return apply_style(fig, title or "Lazy two-layer nets reach the linear optimum R* (Thm 3/4)")


def _band(fig, steps, values, name, colour, row, col, scale):
    arr = np.asarray(values, dtype=float) / scale  # (reps, checkpoints)
    mean, sd = arr.mean(axis=0), arr.std(axis=0)
    fig.add_trace(go.Scatter(x=list(steps) + list(steps)[::-1], y=list(mean + sd) + list(mean - sd)[::-1],
                             fill="toself", fillcolor=colour, opacity=0.2, mode="lines", line=dict(width=0),
                             showlegend=False, hoverinfo="skip"), row=row, col=col)
    fig.add_trace(go.Scatter(x=steps, y=mean, name=name, line=dict(color=colour)), row=row, col=col)


def interpolation_figure(result: dict, title: str | None = None) -> go.Figure:
    """Thm 6/7: surrogate adversarial training loss → 0 while the adversarial test risk → v²
    (mean ± sd over repetitions, both divided by v²)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training (surrogate attack)", "test"))
    steps, v2 = result["steps"], result["v2"]
    _band(fig, steps, result["train"], "adversarial training loss / v²", PALETTE[0], 1, 1, v2)
    _band(fig, steps, result["test_surrogate"], "surrogate test risk / v²", PALETTE[1], 1, 2, v2)
    _band(fig, steps, result["test_pgd"], "PGD test risk / v² (LOWER bound)", PALETTE[2], 1, 2, v2)
    fig.add_hline(y=1.0, line=dict(color="#444", dash="dot"), row=1, col=2, annotation_text="v² (θ = 0)")
    for col in (1, 2):
        fig.update_xaxes(title_text="gradient steps", row=1, col=col)
    fig.update_yaxes(title_text="loss / v²", row=1, col=1)
    return apply_style(fig, title or "High-dimensional interpolation of two-layer nets (Thm 6/7)")

