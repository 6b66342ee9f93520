"""Notebook 01's sliders: ε, ξ, σ², d, ‖θ0‖ and the norm, wired to the three-panel figure.
Every callback is a few milliseconds (exact formulas, a vectorised ε-grid), so the sliders
update while dragging (continuous_update=True); benchmarks/slider_latency.py measures it."""
from __future__ import annotations

import ipywidgets as widgets

from ..attacks import NORMS
from ..experiments.linear_adversarial_risk import linear_risk_views
from ..plots.linear_adversarial_risk import fill_linear_risk_figure, linear_risk_figure
from .figure_widget import new_figure_widget

# The values are the library's norm names (NORMS = ("l2", "linf")), in that order.
NORM_LABELS = dict(zip(("L2 (eq. 5)", "L∞ (eq. 9)"), NORMS))


class LinearRiskExplorer:
    def __init__(self, eps=1.0, xi=0.05, sigma2=1.0, d=10, theta0_norm=3.0, norm="l2"):
        style = {"description_width": "initial"}
        self.controls = {
            "eps": widgets.FloatSlider(value=eps, min=0.0, max=4.0, step=0.05, description="ε", style=style),
            "xi": widgets.FloatLogSlider(value=xi, min=-3, max=0.5, step=0.05, description="ξ", style=style),
            "sigma2": widgets.FloatSlider(value=sigma2, min=0.05, max=4.0, step=0.05, description="σ²", style=style),
            "d": widgets.IntSlider(value=d, min=1, max=100, description="d", style=style),
            "theta0_norm": widgets.FloatSlider(value=theta0_norm, min=0.2, max=6.0, step=0.1,
                                               description="‖θ0‖", style=style),
            "norm": widgets.ToggleButtons(options=list(NORM_LABELS), description="attack",
                                          value=[k for k, v in NORM_LABELS.items() if v == norm][0]),
        }
        self.figure = new_figure_widget(linear_risk_figure(self.views()))
        for control in self.controls.values():
            control.observe(self._redraw, names="value")
        self.ui = widgets.VBox([widgets.HBox(list(self.controls.values())[:3]),
                                widgets.HBox(list(self.controls.values())[3:]), self.figure])

    def values(self) -> dict:
        v = {k: c.value for k, c in self.controls.items()}
        v["norm"] = NORM_LABELS[v["norm"]]
        return v

    def views(self) -> dict:
        return linear_risk_views(**self.values())

    def _redraw(self, _change=None) -> None:
        views = self.views()
        with self.figure.batch_update():  # one message to the browser
            fill_linear_risk_figure(self.figure, views)

    def update(self, **values) -> None:
        """Set slider values as a user would (norm as "l2"/"linf"); each change redraws."""
        for key, value in values.items():
            if key not in self.controls:
                raise ValueError(f"unknown control {key!r}; available: {sorted(self.controls)}")
            if key == "norm":
                value = [k for k, v in NORM_LABELS.items() if v == value][0]
            self.controls[key].value = value
