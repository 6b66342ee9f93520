"""Figure of notebooks/09_lasso_mnist: Fig. 4 of paper 002 (accuracy vs n, with/without LASSO).
Input: the plain dict returned by advexplore.experiments.lasso_mnist; nothing is computed here."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style

METRIC_TITLES = {"adversarial": "adversarial test accuracy (PGD: an UPPER bound on robust accuracy)",
                 "autoattack": "adversarial test accuracy (AutoAttack: an UPPER bound, usually the tighter one)",
                 "standard": "standard test accuracy"}


def _lambda_name(lam: float) -> str:
    return "λ = 0 (no penalty)" if lam == 0 else f"λ = {lam:g} (LASSO)"


def lasso_boxplot(results: dict, metric: str = "adversarial", n_index: int | None = None) -> go.Figure:
    """Left: boxplots of the test accuracy over repetitions vs n, one colour per λ (Fig. 4).
    Right: the repetitions at n_grid[n_index] (default the smallest n), λ = 0 vs each λ, one line
    per repetition (same training sample and initialisation), so a paired gain is visible."""
    if metric not in METRIC_TITLES:
        raise ValueError(f"metric must be one of {tuple(METRIC_TITLES)}, got {metric!r}")
    if results.get(metric) is None:
        raise ValueError(f"metric {metric!r} was not measured (autoattack='off')")
    n_index = 0 if n_index is None else n_index
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.1,
                        subplot_titles=("all sample sizes", f"paired repetitions at n = {results['n'][n_index]}"))
    for j, lam in enumerate(results["lambda"]):
        xs, ys = [], []
        for i, n in enumerate(results["n"]):
            xs += [str(n)] * len(results[metric][i][j])
            ys += results[metric][i][j]
        fig.add_trace(go.Box(x=xs, y=ys, name=_lambda_name(lam), marker_color=PALETTE[j], boxpoints="all",
                             jitter=0.3, pointpos=0, legendgroup=str(j)), row=1, col=1)
    _add_pairs(fig, results, metric, n_index)
    fig.update_layout(boxmode="group")
    fig.update_xaxes(title_text="training sample size n", type="category", row=1, col=1)
    fig.update_xaxes(title_text="penalty λ", type="category", row=1, col=2)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    return apply_style(fig, METRIC_TITLES[metric] + f", L2 ε = {results['config']['eps']:.3g}", height=460)


def pair_traces(results: dict, metric: str, n_index: int) -> list[dict]:
    """x/y of the paired-repetition lines at n_grid[n_index] (one dict per repetition)."""
    names = [f"{lam:g}" for lam in results["lambda"]]
    reps = len(results[metric][n_index][0])
    return [dict(x=names, y=[results[metric][n_index][j][r] for j in range(len(names))]) for r in range(reps)]


def _add_pairs(fig, results, metric, n_index):
    for r, xy in enumerate(pair_traces(results, metric, n_index)):
        fig.add_trace(go.Scatter(**xy, mode="lines+markers", line=dict(color="#999999", width=1),
                                 marker=dict(color=PALETTE[7], size=6), showlegend=False,
                                 name=f"repetition {r}"), row=1, col=2)



def attack_table(rows: list[dict], eps: float) -> go.Figure:
    """The rows of experiments.lasso_mnist.attack_comparison as a table: per n and λ the median
    test accuracy clean, under PGD, under AutoAttack and under both, and in how many repetitions
    each attack gave the tighter (lower) upper bound on the robust accuracy."""
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    cols = {"n": [str(r["n"]) for r in rows], "λ": [f"{r['lam']:g}" for r in rows],
            "standard (%)": [pct(r["standard"]) for r in rows],
            "PGD (%)": [pct(r["pgd"]) for r in rows], "AutoAttack (%)": [pct(r["autoattack"]) for r in rows],
            "both attacks (%)": [pct(r["combined"]) for r in rows],
            "reps: AutoAttack tighter / equal / PGD tighter":
                [f"{r['autoattack_tighter']} / {r['equal']} / {r['pgd_tighter']}" for r in rows]}
    fig = go.Figure(go.Table(header=dict(values=list(cols), align="left"),
                             cells=dict(values=list(cols.values()), align="left")))
    title = (f"Median test accuracy under attack, L2 ε = {eps:.3g}:<br>every attack gives an UPPER bound "
             "on the robust accuracy;<br>the lower one is the tighter (usually AutoAttack);<br>a sample broken "
             "by either is not robust (both attacks)")
    return apply_style(fig, title, height=220 + 28 * len(rows))
