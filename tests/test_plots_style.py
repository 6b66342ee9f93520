"""The shared figure layout (plots.style) and the honest off-scale notes of notebook 06, without a
browser (tests/test_figure_text.py checks the drawn figures in Chromium)."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from advexplore.plots.adversarial_vs_regularized import off_scale_notes, risk_axis_range
from advexplore.plots.style import apply_style, grid_axis, log_axis, log_ticks


def _shown(ticks, lo, hi):
    return [(v, t) for v, t in zip(ticks["tickvals"], ticks["ticktext"]) if lo <= math.log10(v) <= hi]


@pytest.mark.parametrize("lo, hi, pixels", [(-0.1, 1.65, 220), (-0.3, 0.2, 220), (-3, 2, 220), (-8, 3, 200),
                                            (0.3, 0.5, 300), (-1, 1, 60)])
def test_log_ticks_are_1_2_5_or_powers_and_never_crowded(lo, hi, pixels):
    ticks = _shown(log_ticks(lo, hi, pixels, min_gap_px=20), lo, hi)
    assert len(ticks) >= 1
    positions = [math.log10(v) for v, _ in ticks]
    assert all((b - a) / (hi - lo) * pixels >= 20 - 1e-9 for a, b in zip(positions, positions[1:]))
    mantissas = {round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6) for v, _ in ticks}
    assert mantissas <= {1, 2, 3, 5, 7}
    assert all(t and t[0] in "0123456789" for _, t in ticks)  # full numbers: no lone minor digit


def test_log_ticks_labels_read_as_numbers():
    ticks = dict(_shown(log_ticks(-2, 1.2, 300), -2, 1.2))
    assert ticks[0.01] == "0.01" and ticks[10] == "10" and ticks[0.5] == "0.5"
    wide = dict(_shown(log_ticks(-8, 3, 200), -8, 3))
    assert wide[1e-6] == "10⁻⁶" and wide[1] == "1"


def test_log_axis_fits_the_values_and_grid_axis_labels_the_grid():
    axis = log_axis([0.5, None, 20.0, float("nan"), -1.0])
    assert axis["type"] == "log" and axis["range"] == pytest.approx([math.log10(0.5) - 0.05, math.log10(20) + 0.05])
    assert grid_axis([4, 16, 64, 256]) == dict(type="log", tickmode="array", tickvals=[4.0, 16.0, 64.0, 256.0],
                                              ticktext=["4", "16", "64", "256"])


def test_apply_style_puts_the_legend_below_and_the_title_above_subplot_titles():
    fig = apply_style(make_subplots(rows=1, cols=2, subplot_titles=("a", "b")), "title", height=400)
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0 and fig.layout.legend.yanchor == "bottom"
    assert fig.layout.title.text == "title" and fig.layout.title.automargin and fig.layout.title.yanchor == "bottom"
    assert fig.layout.title.pad.b >= 25  # room for the subplot titles under it
    kept = apply_style(go.Figure(layout=dict(title="kept")))  # title=None keeps the figure's own
    assert kept.layout.title.text == "kept"


def test_off_scale_curves_are_named_with_their_largest_value():
    eps = np.linspace(0, 2, 5)
    values = {"standard": np.ones(5), "pgd": 1 + eps, "surrogate": None, "input_gradient": 1 + eps,
              "exhaustive": None, "weight_norm": 1 + 1000 * eps, "adversarial_gap": eps,
              "input_gradient_gap": eps, "weight_norm_gap": 1000 * eps}
    notes = off_scale_notes(values)
    assert 10 ** risk_axis_range(values)[1] < 2001
    assert "2,001" in notes[1] and "2,000" in notes[2]
    values["weight_norm"], values["weight_norm_gap"] = 1 + eps, eps
    assert off_scale_notes(values) == {}
