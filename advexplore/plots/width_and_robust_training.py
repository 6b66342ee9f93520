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


def cost_table(sweep: dict) -> go.Figure:
    """What each run of width_sweep cost: FLOPs of one training step and of the run (count_flops:
    matrix products forward, backward and in the attack) beside the wall time."""
    cols = {"ε": [], "width": [], "FLOPs per step": [], "FLOPs per run": [], "wall time (s)": []}
    for eps in sweep["eps_values"]:
        for k, width in enumerate(sweep["widths"]):
            for key, value in (("ε", f"{eps:g}" + (" (standard)" if eps == 0 else " (PGD)")), ("width", str(width)),
                               ("FLOPs per step", f"{sweep['flops_per_step'][eps][k]:.3g}"),
                               ("FLOPs per run", f"{sweep['flops'][eps][k]:.3g}"),
                               ("wall time (s)", f"{sweep['seconds'][eps][k]:.2f}")):
                cols[key].append(value)
    fig = go.Figure(go.Table(header=dict(values=list(cols), align="left"),
                             cells=dict(values=list(cols.values()), align="left")))
    return apply_style(fig, "Cost of each training run (FLOPs measured, wall time on this machine)",
                       height=130 + 28 * len(cols["ε"]))
