"""One look for every figure: a colour-blind-safe palette (Okabe & Ito, 2008),
a plain template, labelled axes."""
from __future__ import annotations

import plotly.graph_objects as go

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def apply_style(fig: go.Figure, title: str | None = None, height: int = 380) -> go.Figure:
    fig.update_layout(
        template="simple_white",
        colorway=PALETTE,
        height=height,
        margin=dict(l=60, r=20, t=50 if title else 20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        title=title,
        font=dict(size=13),
    )
    return fig


def new_figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget (an anywidget since plotly 6) for in-place updates from sliders; see
    advexplore.plots.figure_widget for why it is not a plain go.FigureWidget."""
    from .figure_widget import SharedBundleFigureWidget  # noqa: PLC0415 (plotly's 5 MB bundle, read on first use)

    return SharedBundleFigureWidget(fig)
