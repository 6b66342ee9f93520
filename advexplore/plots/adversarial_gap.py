"""Figures of notebook 06 that show paper 000's claim itself: how far the regularised risk
R_reg = mean (|f(x) − y| + ε Ω)² lies from the adversarial risk R_adv, and how tightly the
adversarial risk is known (lower bound ≤ exact ≤ certified upper bounds). Each function takes
computed values (advexplore.experiments.adversarial_vs_regularized*) and returns or updates a
plotly figure; nothing is computed here.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style

# (Ω, legend label, colour, dash): the same colours and dashes as the explorer's risk panel
GAP_TRACES = [
    ("weight_norm", "Ω = weight norm (Lipschitz bound)", PALETTE[0], "dash"),
    ("input_gradient", "Ω = ‖∇ₓf(x)‖_* (local linearisation)", PALETTE[2], "longdash"),
]
ZERO_COLOUR = "#7f7f7f"
# (method, legend label, colour, dash, line width) of the bracket figure, lower bound first
BRACKET_TRACES = [
    ("pgd", "PGD-20, 3 restarts — LOWER bound", PALETTE[1], "solid", 2),
    ("exact", "exact maximum", PALETTE[7], "solid", 3),
    ("lp", "LP relaxation — certified UPPER bound", PALETTE[5], "longdash", 2),
    ("crown", "CROWN — certified UPPER bound", PALETTE[3], "dashdot", 2),
    ("ibp", "IBP — certified UPPER bound", PALETTE[4], "dot", 2),
    ("weight_norm", "weight norm (Lipschitz) — certified UPPER bound", PALETTE[0], "dash", 2),
]


def gap_values(curves: dict) -> dict:
    """y arrays of the gap figure by trace meta: "absolute:<Ω>" = R_reg − R_adv and
    "relative:<Ω>" = 100 (R_reg − R_adv) / R_adv in %, R_adv the best-attack risk of risk_curves
    (its key "adversarial")."""
    out = {}
    for omega, *_ in GAP_TRACES:
        for kind, key, scale in (("absolute", f"{omega}_minus_adversarial", 1.0),
                                 ("relative", f"{omega}_relative_gap", 100.0)):
            v = curves[key]
            out[f"{kind}:{omega}"] = scale * (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v))
    out["adversarial"] = np.asarray(curves["adversarial"].tolist() if hasattr(curves["adversarial"], "tolist")
                                    else curves["adversarial"], dtype=float)
    return out


def fitted_range(values: dict, kind: str) -> list[float]:
    """y-range of a panel ("absolute" | "relative") fitted to the input-gradient curve and 0, with
    10 % padding: the weight-norm curve, for networks orders of magnitude above, would otherwise
    flatten the curve whose sign changes with the data (see `off_scale_note`). It spans at least
    ±2 % of the largest R_adv (or ±2 %), so rounding noise of a linear model stays on the 0 line."""
    y = np.append(np.asarray(values[f"{kind}:input_gradient"], dtype=float), 0.0)
    lo, hi = float(y.min()), float(y.max())
    floor = 2.0 if kind == "relative" else 0.02 * max(float(np.max(values["adversarial"])), 1e-12)
    pad = max(0.1 * (hi - lo), floor)
    return [lo - pad, hi + pad]


def off_scale_note(values: dict, kind: str) -> str:
    """'↑ weight norm: off scale, up to +2,235 %' when the weight-norm curve leaves the fitted range."""
    top, unit = float(np.max(values[f"{kind}:weight_norm"])), " %" if kind == "relative" else ""
    if top <= fitted_range(values, kind)[1]:
        return ""
    return f"↑ weight norm: off scale, up to {top:+,.3g}{unit}" if abs(top) < 1e4 else \
        f"↑ weight norm: off scale, up to {top:+,.0f}{unit}"


def adversarial_gap_figure(eps_grid, curves: dict, eps_now: float | None = None,
                           title: str | None = None) -> go.Figure:
    """Two panels over ε, per Ω (weight norm: blue dashed; input gradient: green long-dashed):
    R_reg − R_adv (left) and (R_reg − R_adv) / R_adv in % (right), both fitted to the
    input-gradient curve with a note where the weight norm leaves the panel; a grey dotted line
    at 0 (R_reg = R_adv, as for every linear model) and a dotted vertical line at the current ε.
    Above 0 the regulariser overstates the adversarial risk, below it understates it.
    Update it in place with `update_gap_figure`."""
    eps = np.asarray(eps_grid.tolist() if hasattr(eps_grid, "tolist") else eps_grid, dtype=float)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("R_reg − R_adv", "(R_reg − R_adv) / R_adv"))
    for col, kind in ((1, "absolute"), (2, "relative")):
        fig.add_trace(go.Scatter(x=[eps[0], eps[-1]], y=[0, 0], mode="lines", name="0: R_reg = R_adv",
                                 meta=f"zero:{kind}", legendgroup="zero", showlegend=col == 1,
                                 line=dict(color=ZERO_COLOUR, dash="dot", width=1)), row=1, col=col)
        for omega, label, colour, dash in GAP_TRACES:
            fig.add_trace(go.Scatter(x=eps, y=None, name=label, meta=f"{kind}:{omega}", mode="lines+markers",
                                     marker=dict(size=5), line=dict(color=colour, dash=dash), legendgroup=omega,
                                     showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="attack radius ε", row=1, col=col)
        axis = "" if col == 1 else "2"
        fig.add_annotation(name=f"off scale {kind}", text=" ", visible=False, showarrow=False,
                           xref=f"x{axis} domain", x=0.08, xanchor="left", yref=f"y{axis} domain", y=0.98,
                           yanchor="top", font=dict(size=11, color=PALETTE[0]), bgcolor="rgba(255,255,255,0.8)")
    fig.update_yaxes(title_text="mean squared loss", zeroline=False, row=1, col=1)
    fig.update_yaxes(title_text="% of R_adv", ticksuffix=" %", zeroline=False, row=1, col=2)
    fig.layout.shapes = [dict(type="line", xref=f"x{i or ''}", yref=f"y{i or ''} domain", x0=0, x1=0, y0=0, y1=1,
                              line=dict(color="#444", dash="dot", width=1), visible=False) for i in (0, 2)]
    apply_style(fig, title or "Regularised minus adversarial risk (R_adv: best attack, a lower bound)", height=430)
    update_gap_figure(fig, curves, eps_now)
    return fig


def update_gap_figure(fig: go.Figure, curves: dict, eps_now: float | None = None) -> None:
    """Put new curves into a figure from `adversarial_gap_figure` (a go.Figure or a FigureWidget,
    inside its batch_update): trace y, fitted y-ranges, off-scale notes, the ε marker."""
    values = gap_values(curves)
    for trace in fig.data:
        if trace.meta in values:
            trace.y = values[trace.meta]
    notes = {a.name: a for a in fig.layout.annotations if (a.name or "").startswith("off scale")}
    for axis, kind in (("yaxis", "absolute"), ("yaxis2", "relative")):
        fig.layout[axis].range = fitted_range(values, kind)
        text = off_scale_note(values, kind)
        notes[f"off scale {kind}"].text, notes[f"off scale {kind}"].visible = text or " ", bool(text)
    for shape in fig.layout.shapes:
        shape.x0 = shape.x1 = float(eps_now) if eps_now is not None else 0.0
        shape.visible = eps_now is not None


def bracket_figure(bracket: dict, title: str | None = None) -> go.Figure:
    """The adversarial risk on `bracket["n"]` samples bracketed over a few ε (from
    experiments.adversarial_vs_regularized_bracket.bracket_curves), log scales: left, every
    method's estimate (PGD lower bound; exact maximum; LP, CROWN, IBP and weight-norm upper bounds,
    styles in BRACKET_TRACES); right, each one's ratio to the exact value. Without an exact value
    (L2 with d > 2, a smooth activation, a refused net) the right panel says why instead."""
    eps = bracket["eps"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("estimates of R_adv", "ratio to the exact R_adv"))
    for method, label, colour, dash, width in BRACKET_TRACES:
        style = dict(mode="lines+markers", marker=dict(size=6, color=colour), line=dict(color=colour, dash=dash,
                     width=width), legendgroup=method, meta=method)
        if method in bracket["risk"]:
            fig.add_trace(go.Scatter(x=eps, y=bracket["risk"][method], name=label, **style), row=1, col=1)
        if method in bracket["ratio"]:
            fig.add_trace(go.Scatter(x=eps, y=bracket["ratio"][method], name=label, showlegend=False, **style),
                          row=1, col=2)
    if not bracket["ratio"]:  # the empty panel says why (paper coordinates: an axis without data is not drawn)
        why = bracket["skipped"].get("exact", "the exact value was not requested")
        short = why if len(why) <= 150 else why[:150].rsplit(" ", 1)[0] + " … (see the printed table)"
        fig.add_annotation(text="exact value not computable here:<br>" + _wrap(short, 40), showarrow=False,
                           xref="paper", yref="paper", x=sum(fig.layout.xaxis2.domain) / 2,
                           y=sum(fig.layout.yaxis2.domain) / 2, xanchor="center", yanchor="middle", align="left",
                           font=dict(size=11, color=PALETTE[1]))
    for col in (1, 2):
        fig.update_xaxes(title_text="attack radius ε", tickvals=eps, row=1, col=col)
    fig.update_yaxes(title_text="mean squared loss", type="log", row=1, col=1)
    fig.update_yaxes(title_text="estimate / exact", type="log", row=1, col=2)
    return apply_style(fig, title or f"Bracketing the adversarial risk on {bracket['n']} samples "
                                     f"({bracket['norm'].upper()} ball)", height=430)


def _wrap(text: str, width: int = 48) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])


def bracket_table(bracket: dict) -> str:
    """The bracket as text: per method its ratio to the exact risk at each ε (or its risk when
    there is no exact value) and its seconds in all, methods that were skipped with the reason."""
    ratio = bool(bracket["ratio"])
    head = "ratio to exact at ε =" if ratio else "R_adv estimate at ε ="
    rows = [f"{'method':12} {head} " + " ".join(f"{e:>7g}" for e in bracket["eps"]) + "   seconds"]
    for method, *_ in BRACKET_TRACES:
        if method in bracket["risk"]:
            values = bracket["ratio"][method] if ratio else bracket["risk"][method]
            rows.append(f"{method:12} {'':21} " + " ".join(f"{v:>7.3g}" for v in values)
                        + f"   {sum(bracket['seconds'][method]):7.2f}")
    rows += [f"{method:12} skipped: {why}" for method, why in bracket["skipped"].items()]
    return "\n".join(rows)


def gap_table(by_target: dict, eps_values) -> str:
    """experiments.adversarial_vs_regularized.relative_gap_by_target as text: per target the
    relative gap (R_reg − R_adv) / R_adv in % at each ε, for Ω = ‖∇ₓf‖_* and Ω = weight norm."""
    eps = [float(e) for e in eps_values]
    cells = lambda values: " ".join(f"{100 * v:>+9,.0f}" for v in values)  # noqa: E731
    rows = [f"{'target':9} {'Ω = ‖∇ₓf(x)‖_*, % at ε =':>26} " + " ".join(f"{e:>9g}" for e in eps)
            + f"   {'Ω = weight norm, %':>20}"]
    rows += [f"{target:9} {'':26} {cells(r['input_gradient'])}   {cells(r['weight_norm'][-1:]):>20} (largest ε)"
             for target, r in by_target.items()]
    return "\n".join(rows)
