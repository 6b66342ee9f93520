"""One look for every figure: a colour-blind-safe palette (Okabe & Ito, 2008), a plain template,
labelled axes, and a layout in which no text lands on other text at any page width:

- the title sits above the plot and its subplot titles and pushes the top margin
  (`title.automargin`), however many lines it has, so it never meets them;
- the legend sits at the bottom of the figure (container coordinates) and pushes the bottom
  margin, below the x-axis titles, however many rows it wraps into at a narrow width;
- log axes label only 1-2-5 or powers of ten, as many as fit (`log_axis`), never plotly's
  crowded minor digits ("8" on "9").

`tests/test_figure_text.py` checks this in Chromium for every notebook's figures.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
FONT_SIZE = 13
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def apply_style(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    """Template, palette, height, and the title/legend placement above. `title=None` keeps the
    figure's title text (a widget may fill it in later); subplot titles get room at the top."""
    has_subplot_titles = any(a.yref == "paper" and (a.y or 0) >= 1 for a in fig.layout.annotations)
    fig.update_layout(
        template="simple_white",
        colorway=PALETTE,
        height=height,
        font=dict(size=FONT_SIZE),
        margin=dict(l=60, r=20, t=45 if has_subplot_titles else 25, b=10, autoexpand=True),
        # paper-anchored above the plot (and its subplot titles): plotly draws a multi-line title
        # anchored to the container's top outside the figure
        title=dict(x=0.01, xanchor="left", xref="container", yref="paper", y=1, yanchor="bottom",
                   automargin=True, pad=dict(b=30 if has_subplot_titles else 10)),
        legend=dict(orientation="h", xref="container", x=0.01, xanchor="left",
                    yref="container", y=0.0, yanchor="bottom"),
    )
    if title is not None:
        fig.update_layout(title_text=title)
    return fig


def _label(value: float, power: bool = False) -> str:
    """0.002, 50, 1000 as written; 2×10⁻⁵, 10⁶ with power=True (axes reaching beyond 1e-3…1e4)."""
    if not power:
        return f"{value:g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = round(value / 10 ** exponent, 6)
    power = {0: "1", 1: "10"}.get(exponent, "10" + str(exponent).translate(SUPERSCRIPT))
    return power if mantissa == 1 else f"{mantissa:g}×{power}"


def log_ticks(lo: float, hi: float, pixels: float = 220, min_gap_px: float = 20) -> dict:
    """tickvals/ticktext for a log axis showing log10 range [lo, hi] over `pixels` px: the finest
    of 1-2-5 per decade, then every 1, 2, 3, … decades, whose closest labels stay `min_gap_px`
    apart; the values cover two decades beyond the range, so a widget that moves the range
    keeps labels. Returns {} when the range is not finite (plotly's own ticks then)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return {}
    per_decade = pixels / (hi - lo)
    first, last = math.floor(lo) - 2, math.ceil(hi) + 2

    def fits(mantissas):  # closest pair of labels (within a decade or across its end) far enough apart
        ratios = [b / a for a, b in zip(mantissas, mantissas[1:] + (10 * mantissas[0],))]
        return per_decade * math.log10(min(ratios)) >= min_gap_px

    def shown(mantissas):
        return sum(lo <= math.log10(m) + e <= hi for e in range(first, last + 1) for m in mantissas)

    step = 1
    if fits((1, 2, 5)):
        mantissas = (1, 2, 3, 5, 7) if shown((1, 2, 5)) < 3 and fits((1, 2, 3, 5, 7)) else (1, 2, 5)
    else:
        mantissas, step = (1,), max(1, math.ceil(min_gap_px / per_decade))
    values = [m * 10.0 ** e for e in range(first - first % step, last + 1, step) for m in mantissas]
    power = lo < -3.05 or hi > 4.05
    return dict(tickmode="array", tickvals=values, ticktext=[_label(v, power) for v in values])


def log_axis(values=None, range_: list | None = None, pixels: float = 220, min_gap_px: float = 20,
             pad: float = 0.05) -> dict:
    """Keyword arguments for fig.update_xaxes/update_yaxes: a log axis whose labels never collide
    (see log_ticks). The range is `range_` (log10 units) or fitted to the positive finite
    `values` with `pad` decades either side; minor ticks without labels mark 2…9."""
    if range_ is None and values is not None:
        v = np.asarray([x for x in np.ravel(np.asarray(values, dtype=object)) if x is not None], dtype=float)
        v = v[np.isfinite(v) & (v > 0)]
        if v.size:
            range_ = [float(np.log10(v.min())) - pad, float(np.log10(v.max())) + pad]
    out = dict(type="log", minor=dict(ticks="outside", ticklen=3, dtick="D1", showgrid=False))
    if range_ is not None:
        out["range"] = list(range_)
        out.update(log_ticks(range_[0], range_[1], pixels, min_gap_px))
    return out


def grid_axis(values) -> dict:
    """A log x-axis labelled exactly at the grid values of an experiment (widths, sample sizes):
    the numbers a reader looks for, never a minor digit."""
    vals = sorted({float(v) for v in values if v is not None and float(v) > 0})
    power = bool(vals) and (vals[0] < 1e-3 or vals[-1] >= 1e4)
    return dict(type="log", tickmode="array", tickvals=vals, ticktext=[_label(v, power) for v in vals])
