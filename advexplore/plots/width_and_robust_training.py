"""Figure of notebooks/08_width_and_robust_training (paper 001). Input: the dict of
advexplore.experiments.width_and_robust_training.width_sweep; nothing is computed here."""
from __future__ import annotations

import plotly.graph_objects as go

from .style import PALETTE, apply_style, grid_axis, log_axis


def width_figure(sweep: dict, threshold: float | None = None, title: str | None = None) -> go.Figure:
    """Robust training loss (PGD, a LOWER bound) against width, one line per ε (ε = 0: standard)."""
    fig = go.Figure()
    for i, eps in enumerate(sweep["eps_values"]):
        label = "standard training loss (ε = 0)" if eps == 0 else f"robust training loss, ε = {eps:g} (PGD, LOWER bound)"
        fig.add_trace(go.Scatter(x=sweep["widths"], y=sweep["loss"][eps], mode="lines+markers", name=label,
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    if threshold is not None:  # a trace, not add_hline: on a log axis plotly puts the hline's label off the plot
        fig.add_trace(go.Scatter(x=[min(sweep["widths"]), max(sweep["widths"])], y=[threshold] * 2, mode="lines",
                                 name="interpolation threshold", line=dict(color="#444", dash="dot", width=1.5)))
    fig.update_xaxes(title_text="width (hidden units)", **grid_axis(sweep["widths"]))
    losses = [v for eps in sweep["eps_values"] for v in sweep["loss"][eps]] + [threshold]
    fig.update_yaxes(title_text="training loss (mean squared)", **log_axis(losses, pixels=250))
    return apply_style(fig, title or "Robust interpolation needs more width (paper 001)")
