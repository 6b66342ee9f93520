"""Figures of the GPU WideResNet runs: training curves, the final table beside the paper's
numbers, mean ± sd curves over repetitions (Fig. 2 of paper 002) and the gap-vs-surrogate view
(paper 000). PGD accuracies are attack-based: UPPER bounds on robust accuracy (the attack's
loss is a LOWER bound on the inner max); the figures say so."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style


def training_curves(histories: dict[str, list[dict]], title: str = "Training curves") -> go.Figure:
    """Per arm: training loss, and test clean (dashed) / PGD (solid) accuracy (%) by epoch."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss (on the training inputs)",
                                                        "test accuracy: clean (dashed), PGD (solid, upper bound)"))
    for i, (name, hist) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        ep = [r["epoch"] for r in hist]
        fig.add_trace(go.Scatter(x=ep, y=[r["train_loss"] for r in hist], name=name, legendgroup=name,
                                 line=dict(color=colour)), 1, 1)
        evaluated = [r for r in hist if "test_clean_acc" in r]
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in evaluated], y=[100 * r["test_clean_acc"] for r in evaluated],
                                 name=f"{name} clean", legendgroup=name, showlegend=False,
                                 line=dict(color=colour, dash="dash")), 1, 2)
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in evaluated], y=[100 * r["test_robust_acc"] for r in evaluated],
                                 name=f"{name} PGD", legendgroup=name, showlegend=False,
                                 line=dict(color=colour)), 1, 2)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", row=1, col=2)
    return apply_style(fig, title, height=420)


def results_table(rows: dict[str, dict], paper: dict[str, tuple[float, float]] | None = None,
                  title: str = "Final test accuracy (best checkpoint)",
                  paper_sd: dict[str, tuple[float, float]] | None = None) -> go.Figure:
    """A table: arm, std / adv (PGD-20) accuracy of this run (%; mean ± sd for rows made by
    arm_summary over several runs), AutoAttack beside PGD (or how it was set when there is no
    number: off, not installed), the paper's std / adv, cost (measured training FLOPs per image
    and in all, GPU-hours, throughput, memory; – for a model from disk)."""
    names = list(rows)
    fmt = lambda v, d=2: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    def acc(n, key):  # "mean ± sd" when the row summarises repeated runs (arm_summary)
        sd = rows[n].get(key.replace("acc", "sd"))
        return fmt(rows[n][key]) + (f" ± {sd:.2f}" if sd is not None and rows[n].get("runs", 1) > 1 else "")
    cols = {"arm": [n + (f" ({rows[n]['runs']} runs)" if rows[n].get("runs", 1) > 1 else "") for n in names],
            "std acc (this run, %)": [acc(n, "std_acc") for n in names],
            "adv acc PGD-20 (this run, %, upper bound)": [acc(n, "adv_acc") for n in names],
            "AutoAttack (%, usually the tighter upper bound)": [_autoattack_cell(rows[n]) for n in names]}
    if paper is not None:
        def paper_cell(n):
            if n not in paper:
                return "–"
            (std, adv), sd = paper[n], (paper_sd or {}).get(n)
            return f"{std:.2f} ± {sd[0]:.2f} / {adv:.2f} ± {sd[1]:.2f}" if sd else f"{std:.2f} / {adv:.2f}"
        cols["paper 002: std / adv (%)"] = [paper_cell(n) for n in names]
    cols["best epoch"] = [fmt(rows[n]["best_epoch"], 0) for n in names]
    cols["training GFLOPs / image"] = [fmt(_scaled(rows[n].get("flops_per_image"), 1e9), 3) for n in names]
    cols["training PFLOPs"] = [fmt(_scaled(rows[n].get("train_flops"), 1e15), 4) for n in names]
    cols["GPU-h"] = [fmt(rows[n]["gpu_hours"], 3) for n in names]
    cols["images/s"] = [fmt(rows[n]["images_per_s"], 0) for n in names]
    cols["peak mem (GB)"] = [fmt(rows[n]["peak_memory_gb"], 2) for n in names]
    fig = go.Figure(go.Table(header=dict(values=list(cols), align="left"),
                             cells=dict(values=list(cols.values()), align="left")))
    return apply_style(fig, title, height=140 + 30 * len(names))


def _scaled(value, unit):
    return None if value is None else value / unit


def _autoattack_cell(row: dict) -> str:
    """AutoAttack accuracy with how it was run (summary_row's autoattack), or why there is none."""
    how, acc = row.get("autoattack"), row.get("autoattack_acc")
    if acc is not None:
        return f"{acc:.2f}" + (f" ({how})" if how else "")
    return "off" if how == "off" else "– (needs the attacks extra)" if how else "–"


def mean_band_curves(curves: dict[str, tuple[list, list, list]], x_title: str, y_title: str,
                     title: str) -> go.Figure:
    """curves[name] = (x, mean, sd): a line with a ±1 sd band per name."""
    fig = go.Figure()
    for i, (name, (x, mean, sd)) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        dash = "dash" if "clean" in name else None
        fig.add_trace(go.Scatter(x=list(x) + list(x)[::-1], y=[m + s for m, s in zip(mean, sd)] +
                                 [m - s for m, s in zip(mean, sd)][::-1], fill="toself", opacity=0.2, mode="lines",
                                 line=dict(width=0, color=colour), showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=mean, name=name, line=dict(color=colour, dash=dash)))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return apply_style(fig, title)


def gap_vs_surrogate(rows: dict[str, dict], title: str) -> go.Figure:
    """Left: per arm, the adversarial gap in test loss (PGD-20 loss − clean loss; attack-based,
    a LOWER bound on the true gap) against its first-order regulariser ε E‖∇ₓl‖_*, with the
    line y = x where a regularised risk would capture the gap. Right: cost per arm, the training
    FLOPs per image measured by count_flops (a double backward counted at its real price;
    forward+backward passes in the hover)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("gap (PGD, lower bound) vs ε·E‖∇ₓl‖*",
                                                        "cost: training GFLOPs per image (measured)"))
    names = list(rows)
    top = max([1e-9] + [max(rows[n]["gap"], rows[n]["surrogate"]) for n in names])
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="gap = regulariser",
                             line=dict(color="grey", dash="dot")), 1, 1)
    for i, n in enumerate(names):
        fig.add_trace(go.Scatter(x=[rows[n]["surrogate"]], y=[rows[n]["gap"]], mode="markers", name=n,
                                 marker=dict(size=12, color=PALETTE[i % len(PALETTE)])), 1, 1)
    fig.add_trace(go.Bar(x=names, y=[_scaled(rows[n].get("flops_per_image"), 1e9) for n in names], showlegend=False,
                         customdata=[rows[n].get("passes_per_image") for n in names],
                         hovertemplate="%{x}: %{y:.3g} GFLOPs per image, %{customdata} passes<extra></extra>",
                         marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(names))]), 1, 2)
    fig.update_xaxes(title_text="ε·E‖∇ₓl‖* (first-order regulariser)", row=1, col=1)
    fig.update_yaxes(title_text="E[l(x+δ_PGD)] − E[l(x)]", row=1, col=1)
    fig.update_yaxes(title_text="GFLOPs per training image", row=1, col=2)
    return apply_style(fig, title, height=420)
