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

