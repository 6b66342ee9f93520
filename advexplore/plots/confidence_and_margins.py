"""Figure of notebooks/10_confidence_and_margins: paper 003's confidence / margin / smoothness
comparison of a standard and an adversarially trained net. Input: the plain dict returned by
advexplore.experiments.confidence_and_margins; nothing is computed here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import PALETTE, apply_style


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[np.isfinite(v)]


def confidence_figure(study: dict, index: int, reference: int = 0) -> go.Figure:
    """Paper 003 view, net trained at ε = study["eps"][index] against the net at
    study["eps"][reference] (ε = 0: standard training): histograms of softmax confidence, of the
    logit margin f_y − max_{k≠y} f_k, of the attack-estimated distance to the decision boundary
    (an UPPER bound per sample; samples beyond eps_max counted in the title), and the layer-wise
    local Lipschitz constant ‖∂h_l/∂x‖₂ of the feature maps."""
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.2, horizontal_spacing=0.12,
                        subplot_titles=("softmax confidence max_k p_k", "logit margin f_y − max_{k≠y} f_k",
                                        "distance to the boundary<br>(attack: upper bound; 0 = misclassified)",
                                        "feature-map smoothness<br>‖∂h_l/∂x‖₂ (mean)"))
    for slot, (colour, k) in enumerate(((PALETTE[0], reference), (PALETTE[1], index))):
        for trace in _report_traces(study, k, colour, slot):
            fig.add_trace(trace[0], row=trace[1], col=trace[2])
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="confidence", row=1, col=1)
    fig.update_xaxes(title_text="logit margin", row=1, col=2)
    fig.update_xaxes(title_text=f"L2 distance in input space (≤ {study['eps_max']:.3g} shown)", row=2, col=1)
    fig.update_xaxes(title_text="layer (last = logits)", row=2, col=2)
    for r, c in ((1, 1), (1, 2), (2, 1)):
        fig.update_yaxes(title_text="fraction of test samples", row=r, col=c)
    fig.update_yaxes(title_text="local Lipschitz constant", row=2, col=2)
    return apply_style(fig, _title(study, index, reference), height=720)


def net_label(eps: float) -> str:
    return "standard training (ε = 0)" if eps == 0 else f"adversarial training, ε = {eps:g}"


def _report_traces(study, k, colour, slot=1):
    report, name = study["reports"][k], net_label(study["eps"][k])
    lip = np.asarray(report["lipschitz"]["local"], dtype=float)
    common = dict(marker_color=colour, opacity=0.6, histnorm="probability", legendgroup=name)
    return [
        (go.Histogram(x=np.asarray(report["confidence"], float), name=name, xbins=dict(start=0, end=1.0001, size=0.025),
                      **common), 1, 1),
        # one bin grid for both nets (bingroup): a narrow distribution got slivers of bars otherwise
        (go.Histogram(x=np.asarray(report["logit_margin"], float), name=name, nbinsx=40, showlegend=False,
                      bingroup="logit_margin", **common), 1, 2),
        (go.Histogram(x=_finite(report["margin"]), name=name, showlegend=False,
                      xbins=dict(start=0, end=study["eps_max"] * 1.0001, size=study["eps_max"] / 30), **common), 2, 1),
        (go.Bar(x=[f"h{l + 1}" if l < len(lip) - 1 else "logits" for l in range(len(lip))], y=lip, name=name,
                marker_color=colour, showlegend=False, legendgroup=name,
                width=0.4, offset=-0.4 + 0.4 * slot), 2, 2),  # side by side under barmode="overlay"
    ]


def summary_line(study: dict, k: int) -> str:
    """'standard … acc 96.1 %, adv. acc at ε 57.0 %, mean confidence 0.93' for net k at its own ε
    (for ε = 0 at the selected ε of the comparison, see _title)."""
    r = study["reports"][k]
    beyond = int(np.sum(~np.isfinite(np.asarray(r["margin"], float))))
    return (f"{net_label(study['eps'][k])}: std acc {100 * r['standard_accuracy']:.1f} %, "
            f"mean confidence {float(np.mean(np.asarray(r['confidence'], float))):.3f}, {beyond} samples beyond ε_max")


def _title(study, index, reference):
    eps = study["eps"][index]
    acc = study["adversarial_accuracy"]
    return ("<b>AT makes nets less confident, samples nearer the boundary in output space</b><br>"
            f"<sup>{summary_line(study, reference)}; adv. acc at ε = {eps:g}: {100 * acc[reference][index]:.1f} %"
            f"<br>{summary_line(study, index)}; adv. acc at ε = {eps:g}: {100 * acc[index][index]:.1f} %"
            "<br>(adv. acc: PGD, upper bounds on robust accuracy)</sup>")


def update_confidence_figure(fig, study: dict, index: int, reference: int = 0) -> None:
    """Swap the compared net's data in place (trace order as built by confidence_figure)."""
    new = [t for t, _, _ in _report_traces(study, index, PALETTE[1], 1)]
    with fig.batch_update():
        for offset, trace in enumerate(new):
            target = fig.data[len(new) + offset]
            for key in ("x", "y", "name"):
                if key in trace and trace[key] is not None:
                    setattr(target, key, trace[key])
            if "legendgroup" in trace:
                target.legendgroup = trace.legendgroup
        fig.layout.title.text = _title(study, index, reference)


def accuracy_table(rows: list[dict], eps_grid: list[float]) -> go.Figure:
    """Per net (experiments.confidence_and_margins.summary_rows) and attack ε: standard accuracy,
    and robust accuracy under PGD, AutoAttack and both attacks (%). Every attack gives an UPPER
    bound on the robust accuracy; the lower one is the tighter (usually AutoAttack)."""
    pct = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
    cells = {"net": [], "attack ε": [], "standard (%)": [], "PGD (%)": [], "AutoAttack (%)": [], "both attacks (%)": []}
    for row in rows:
        for j, eps in enumerate(eps_grid):
            for key, value in (("net", net_label(row["eps"])), ("attack ε", f"{eps:g}"),
                               ("standard (%)", pct(row["standard_accuracy"])),
                               ("PGD (%)", pct(row["adversarial_accuracy"][j])),
                               ("AutoAttack (%)", pct(row["autoattack_accuracy"][j])),
                               ("both attacks (%)", pct(row["combined_accuracy"][j]))):
                cells[key].append(value)
    fig = go.Figure(go.Table(header=dict(values=list(cells), align="left"),
                             cells=dict(values=list(cells.values()), align="left")))
    title = ("Accuracy under attack: PGD and AutoAttack give UPPER bounds<br>"
             "on the robust accuracy; the lower is the tighter (usually AutoAttack;<br>"
             "– = AutoAttack off); both attacks = right under each")
    return apply_style(fig, title, height=200 + 28 * len(cells["net"]))


def single_net_figure(study: dict) -> go.Figure:
    """confidence_figure of a study holding one net (e.g. one checkpoint), without a comparison."""
    fig = confidence_figure(study, 0, 0)
    fig.data = fig.data[:len(fig.data) // 2]  # the same net was drawn twice, as reference and as compared
    acc = study["adversarial_accuracy"][0][0]
    fig.layout.title.text = (f"<b>{summary_line(study, 0)}</b><br><sup>adv. acc at ε = {study['eps'][0]:g}: "
                             f"{100 * acc:.1f} % (PGD: an upper bound on robust accuracy)</sup>")
    return fig


def study_figure(study: dict) -> go.Figure:
    """The static figure of notebook 10: the last net against the first, or the net alone."""
    if len(study["eps"]) == 1:
        return single_net_figure(study)
    return confidence_figure(study, len(study["eps"]) - 1)
