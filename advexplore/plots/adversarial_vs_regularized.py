"""Figures of the adversarial-vs-regularised explorer (notebook 06). Each function takes
computed tensors (advexplore.experiments.adversarial_vs_regularized) and returns a plotly figure; nothing is computed here.

Bounds are named in every legend: attack-based risks (PGD) are LOWER bounds on the
adversarial risk, the weight-norm regularised risk is a certified UPPER bound."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style, log_axis

# (key in the curves dict, legend label, colour, dash) — order = trace order of the risk panel
RISK_TRACES = [
    ("standard", "standard risk (no attack)", "#7f7f7f", "dot"),
    ("pgd", "adversarial risk, PGD — LOWER bound", PALETTE[1], "solid"),
    ("surrogate", "surrogate risk R_ξ (PGD shrunk by ξ) — lower bound", PALETTE[4], "dashdot"),
    ("weight_norm", "regularised, Ω = weight norm (Lipschitz) — certified UPPER bound", PALETTE[0], "dash"),
    ("input_gradient", "regularised, Ω = ‖∇ₓf(x)‖_* (weakly data-dependent)", PALETTE[2], "longdash"),
]
GAP_TRACES = [
    ("adversarial_gap", "adversarial gap A_ε (PGD − standard) — LOWER bound", PALETTE[1], "solid"),
    ("weight_norm_gap", "weight-norm R_reg − standard", PALETTE[0], "dash"),
    ("input_gradient_gap", "input-gradient R_reg − standard", PALETTE[2], "longdash"),
]
TIGHTNESS_TRACES = [
    ("pgd_subset", "PGD (searched samples) — LOWER bound", PALETTE[1], "solid"),
    ("exhaustive", "grid search of the ε-ball — LOWER bound", PALETTE[7], "dot"),
]


def _np(values):
    if values is None:
        return None
    return values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)


def curve_values(curves: dict, surrogate=None) -> dict:
    """The y arrays of every trace of `risk_curves_figure`, by key (None where not computed)."""
    values = {key: _np(curves.get(key)) for key, *_ in RISK_TRACES + GAP_TRACES + TIGHTNESS_TRACES}
    values["surrogate"] = _np(surrogate)
    return values


def risk_curves_figure(eps_grid, curves: dict, surrogate=None, eps_now: float | None = None,
                       xi: float = 0.0, title: str | None = None, log_y: bool = True) -> go.Figure:
    """Three panels over ε: the risks, their gaps over the standard risk, and (d ≤ 2) how
    tight PGD is against the exhaustive search. A vertical line marks the current ε.
    Trace names are the keys of RISK_TRACES/GAP_TRACES/TIGHTNESS_TRACES (meta), so a widget
    can update them in place with `curve_values`."""
    eps = _np(eps_grid)
    values = curve_values(curves, surrogate)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=("risks over ε", "gap over the standard risk",
                                        "how tight is PGD? (d ≤ 2)"))
    for col, spec in ((1, RISK_TRACES), (2, GAP_TRACES), (3, TIGHTNESS_TRACES)):
        for key, label, colour, dash in spec:
            y = values[key]
            if key == "weight_norm":
                label = weight_norm_label(values)
            fig.add_trace(go.Scatter(x=eps, y=y if y is not None else [None] * len(eps), name=label,
                                     meta=key, mode="lines+markers", marker=dict(size=5),
                                     line=dict(color=colour, dash=dash), legendgroup=key,
                                     showlegend=col != 3 or key == "exhaustive"), row=1, col=col)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text="attack radius ε", row=1, col=col)
    for col, title_text, axis_range in ((1, "mean squared loss", risk_axis_range(values)),
                                        (2, "risk − standard risk", gap_axis_range(values))):
        axis = log_axis(range_=axis_range, pixels=PANEL_PIXELS) if log_y else {}
        fig.update_yaxes(title_text=title_text, row=1, col=col, **axis)
    fig.update_yaxes(title_text="mean squared loss", row=1, col=3)
    set_eps_marker(fig, eps_now)
    if log_y:
        mark_off_scale(fig, values)
    return apply_style(fig, title or f"Adversarial vs regularised risk (ξ = {xi:g})", height=560)


# (panel, key of the curve, short name): the curves a fitted log range may leave at the top
OFF_SCALE = ((1, "weight_norm", "weight-norm bound"), (2, "weight_norm_gap", "weight-norm gap"))


def off_scale_notes(values: dict) -> dict[int, str]:
    """Per panel, a note for each curve that rises above the fitted range (risk_axis_range,
    gap_axis_range): '↑ weight-norm bound: off scale, up to 450'; empty when all fit."""
    tops = {1: risk_axis_range(values), 2: gap_axis_range(values)}
    notes = {}
    for panel, key, name in OFF_SCALE:
        y, top = values.get(key), tops[panel]
        if y is None or top is None:
            continue
        y = np.asarray(y, dtype=float)
        y = y[np.isfinite(y)]
        if y.size and y.max() > 10 ** top[1]:
            top_value = float(y.max())
            notes[panel] = f"↑ {name}: off scale,<br>up to {top_value:.3g}" if top_value < 1000 else \
                f"↑ {name}: off scale,<br>up to {top_value:,.0f}"
    return notes


def mark_off_scale(fig: go.Figure, values: dict) -> None:
    """Write off_scale_notes as annotations inside the top left corner of the risk and gap panels
    (created on the first call, updated after; a widget calls it after new curves)."""
    notes = off_scale_notes(values)
    existing = {a.name: a for a in fig.layout.annotations if (a.name or "").startswith("off scale")}
    for panel in (1, 2):
        text, name = notes.get(panel, ""), f"off scale {panel}"
        if name in existing:
            existing[name].text, existing[name].visible = text or " ", bool(text)
        else:
            axis = "" if panel == 1 else str(panel)
            fig.add_annotation(name=name, text=text or " ", visible=bool(text), showarrow=False,
                               xref=f"x{axis} domain", x=0.02, xanchor="left", yref=f"y{axis} domain", y=0.98,
                               yanchor="top", align="left", font=dict(size=11, color=PALETTE[0]),
                               bgcolor="rgba(255,255,255,0.8)")


PANEL_PIXELS = 230  # about the panels' height in px once the legend's rows are below them


def risk_axis_range(values: dict, keys=("standard", "pgd", "surrogate", "input_gradient", "exhaustive")):
    """log10 y-range of the risk panel fitted to the attack and input-gradient curves, so the
    weight-norm bound (often orders of magnitude above for deep nets) cannot squash them;
    where it is higher it leaves the top of the panel (see `weight_norm_label`)."""
    finite = np.concatenate([np.asarray(values[k], dtype=float) for k in keys if values.get(k) is not None])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return None
    return [float(np.log10(finite.min() * 0.8)), float(np.log10(finite.max() * 3.0))]


def gap_axis_range(values: dict):
    """The same for the gap panel (attack gap and input-gradient gap)."""
    return risk_axis_range(values, ("adversarial_gap", "input_gradient_gap"))


def weight_norm_label(values: dict) -> str:
    """Legend text of the weight-norm curve; says by how much it overshoots the attack at ε_max."""
    base = RISK_TRACES[3][1]
    upper, attack = values.get("weight_norm"), values.get("pgd")
    if upper is None or attack is None or attack[-1] <= 0:
        return base
    ratio = float(upper[-1] / attack[-1])
    return base if ratio < 3 else f"{base} (×{ratio:.1g} the PGD risk at the largest ε)"


def set_eps_marker(fig: go.Figure, eps_now: float | None) -> None:
    """A vertical dotted line at the current ε in every panel: three layout shapes, created on
    the first call and moved afterwards (cheap inside a FigureWidget's batch_update)."""
    x = float(eps_now) if eps_now is not None else None
    if len(fig.layout.shapes) != 3:
        fig.layout.shapes = [dict(type="line", xref=f"x{i or ''}", yref=f"y{i or ''} domain", x0=x, x1=x,
                                  y0=0, y1=1, line=dict(color="#444", dash="dot", width=1),
                                  visible=x is not None) for i in (0, 2, 3)]
        return
    for shape in fig.layout.shapes:
        shape.x0 = shape.x1 = x
        shape.visible = x is not None


def decision_figure(u, v, f, x, delta, eps: float, y=None, max_arrows: int = 40) -> go.Figure:
    """2-D data: heatmap of the model's output f(x), the data, and the PGD attack
    x → x + δ as arrows for the first `max_arrows` points."""
    x, delta = _np(x), _np(delta)
    fig = go.Figure(go.Heatmap(x=_np(u), y=_np(v), z=_np(f), colorscale="RdBu", reversescale=True,
                               colorbar=dict(title="f(x)"), name="f(x)", meta="surface"))
    fig.add_trace(go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", name="data",
                             marker=dict(size=5, color="#222", opacity=0.6), meta="data"))
    m = min(max_arrows, len(x))
    arrows_x, arrows_y = arrow_segments(x[:m], delta[:m])
    fig.add_trace(go.Scatter(x=arrows_x, y=arrows_y, mode="lines", name="PGD attack x → x + δ",
                             line=dict(color=PALETTE[4], width=2), meta="arrows"))
    fig.add_trace(go.Scatter(x=x[:m, 0] + delta[:m, 0], y=x[:m, 1] + delta[:m, 1], mode="markers",
                             name="attacked point", marker=dict(size=6, color=PALETTE[4], symbol="x"),
                             meta="heads"))
    fig.update_xaxes(title_text="x₁", constrain="domain")   # equal scales: a narrower plot, not empty margins
    fig.update_yaxes(title_text="x₂", scaleanchor="x", scaleratio=1, constrain="domain")
    return apply_style(fig, f"Model output f(x) and PGD attack directions at ε = {eps:g}", height=430)


def arrow_segments(x, delta):
    """Line segments (x, x + δ) joined by None breaks, for one Scatter trace."""
    xs, ys = [], []
    for p, d in zip(x, delta):
        xs += [p[0], p[0] + d[0], None]
        ys += [p[1], p[1] + d[1], None]
    return xs, ys


def training_comparison_figure(runs: dict, title: str | None = None) -> go.Figure:
    """Cost and result side by side for standard / adversarial / regularised training
    (paper 000). Left: each run's cost relative to the standard run in three measures — passes
    through the model, FLOPs (a double backward counts what it costs, not as one pass) and wall
    time — the absolute numbers in each bar's hover text; right: test standard and adversarial risk."""
    names = list(runs)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("cost relative to standard training",
                                                        "test risk (lower is better)"))
    costs = {key: [runs[n]["cost"].get(key, 0) or 0 for n in names] for key in ("passes", "flops", "seconds")}
    for key, label, colour, text in (("passes", "forward + backward passes", PALETTE[0], "{:,.0f}".format),
                                     ("flops", "FLOPs (matrix products)", PALETTE[3], _si),
                                     ("seconds", "wall time", PALETTE[4], "{:.2f} s".format)):
        base = costs[key][names.index("standard")] if "standard" in names else 0
        ratio = [v / base if base else 0 for v in costs[key]]
        fig.add_trace(go.Bar(x=names, y=ratio, name=label, marker_color=colour, hoverinfo="text+name",
                             text=[f"×{r:.2f} ({text(v)})" for r, v in zip(ratio, costs[key])], textposition="none"),
                      row=1, col=1)
    fig.add_trace(go.Bar(x=names, y=[runs[n]["test_standard_risk"] for n in names], name="standard risk",
                         marker_color="#7f7f7f"), row=1, col=2)
    fig.add_trace(go.Bar(x=names, y=[runs[n]["test_adversarial_risk"] for n in names],
                         name="adversarial risk (PGD, LOWER bound)", marker_color=PALETTE[1]), row=1, col=2)
    fig.update_yaxes(title_text="× the standard run", row=1, col=1)
    fig.update_yaxes(title_text="mean squared loss on test data", row=1, col=2)
    fig.update_layout(barmode="group")
    return apply_style(fig, title or "What a regulariser saves, and where it lands", height=420)


def _si(value: float) -> str:
    """509 M, 2.4 G: a FLOP count short enough for a bar label."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value:.3g}"
