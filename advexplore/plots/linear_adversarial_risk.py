"""Figure of notebook 01: the exact linear adversarial risk in three panels."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style

# trace order, so widgets can update data in place by index
TRACES = ("risk_path", "risk_path_eps0", "optimum", "risk_star", "shrinkage", "v2", "eps_now",
          "exact", "surrogate", "eps_c")


def linear_risk_figure(views: dict) -> go.Figure:
    """Left: R_L(tθ0, ε) along the shrinkage path with θ* marked (eq. 5/9). Middle: R*(ε), v²
    and ‖θ*‖/‖θ0‖ (right axis) over ε, ε_c marked (Prop. 1, 8). Right: exact vs surrogate risk."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.14,
                        specs=[[{}, {"secondary_y": True}, {}]],
                        subplot_titles=("risk along θ = t·θ0", "robust optimum over ε",
                                        "exact vs surrogate (ξ) risk"))
    fig.add_trace(go.Scatter(name="R_L(tθ0, ε)", line=dict(color=PALETTE[0])), 1, 1)
    fig.add_trace(go.Scatter(name="R_L(tθ0, 0): standard risk", line=dict(color=PALETTE[7], dash="dot")), 1, 1)
    fig.add_trace(go.Scatter(name="θ* at this ε", mode="markers",
                             marker=dict(color=PALETTE[1], size=11, symbol="star")), 1, 1)
    fig.add_trace(go.Scatter(name="R*(ε) = min R_L", line=dict(color=PALETTE[1])), 1, 2)
    fig.add_trace(go.Scatter(name="‖θ*‖/‖θ0‖ (right axis)", line=dict(color=PALETTE[2], dash="dash")),
                  1, 2, secondary_y=True)
    fig.add_trace(go.Scatter(name="v² (null model)", line=dict(color=PALETTE[7], dash="dot")), 1, 2)
    fig.add_trace(go.Scatter(name="current ε", mode="lines", line=dict(color=PALETTE[3], width=1),
                             showlegend=False), 1, 2)
    fig.add_trace(go.Scatter(name="exact R_L", line=dict(color=PALETTE[0]), showlegend=False), 1, 3)
    fig.add_trace(go.Scatter(name="surrogate R_{L,ξ}", line=dict(color=PALETTE[4], dash="dash")), 1, 3)
    fig.add_trace(go.Scatter(name="ε_c: θ* = 0 beyond (Prop. 8)", mode="lines",
                             line=dict(color=PALETTE[5], dash="dashdot", width=1.5)), 1, 2)
    fig.update_xaxes(title_text="t (θ = t·θ0)", row=1, col=1)
    fig.update_xaxes(title_text="attack radius ε", row=1, col=2)
    fig.update_xaxes(title_text="t (θ = t·θ0)", row=1, col=3)
    fig.update_yaxes(title_text="population squared loss", row=1, col=1)
    fig.update_yaxes(title_text="‖θ*‖/‖θ0‖", range=[0, 1.05], tickmode="linear", tick0=0, dtick=0.2,
                     showgrid=False, row=1, col=2, secondary_y=True)
    apply_style(fig, height=470)
    fill_linear_risk_figure(fig, views)
    return fig


def fill_linear_risk_figure(fig, views: dict) -> None:
    """Write `views` (advexplore.experiments.linear_adversarial_risk.linear_risk_views) into the traces of `fig`."""
    t, e = views["t"].tolist(), views["eps_grid"].tolist()
    r_star = views["risk_star"].tolist()
    top = max(max(r_star), views["v2"]) * 1.05
    data = {
        "risk_path": (t, views["risk_path"].tolist()),
        "risk_path_eps0": (t, views["risk_path_eps0"].tolist()),
        "optimum": ([views["t_star"]], [views["r_star"]]),
        "risk_star": (e, r_star),
        "shrinkage": (e, views["shrinkage"].tolist()),
        "v2": ([e[0], e[-1]], [views["v2"]] * 2),
        "eps_now": ([views["eps"]] * 2, [0, top]),
        "exact": (views["t_surrogate"].tolist(), views["exact"].tolist()),
        "surrogate": (views["t_surrogate"].tolist(), views["surrogate"].tolist()),
        # no line when ε_c lies beyond the plotted ε range (the title still gives it)
        "eps_c": ([views["eps_c"]] * 2, [0, top]) if views["eps_c"] <= e[-1] else ([], []),
    }
    for trace, key in zip(fig.data, TRACES):
        trace.x, trace.y = data[key]
    fig.layout.title.text = (f"ε = {views['eps']:.2f}, ξ = {views['xi']:.3g}: R* = {views['r_star']:.3f}, "
                             f"v² = {views['v2']:.3f}, θ* = 0 beyond ε_c = {views['eps_c']:.3f}")
