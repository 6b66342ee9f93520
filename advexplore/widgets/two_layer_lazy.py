"""Widget of notebooks/07_two_layer_lazy (lazy two-layer nets, paper 002 Thm 3/4)."""
from __future__ import annotations

import ipywidgets as widgets

from ..experiments.two_layer_lazy import lazy_convergence_grid
from ..models import ACTIVATIONS
from ..plots.two_layer_lazy import lazy_convergence_figure
from .buttons import ButtonExplorer


class LazyExplorer(ButtonExplorer):
    """Thm 3/4: excess adversarial risk over R* against h, per n, for the chosen φ, ε, ξ."""

    def __init__(self, n_values, h_values, eps=0.5, xi=0.1, activation="softplus", **run_kwargs):
        self.n_values, self.h_values, self.run_kwargs = list(n_values), list(h_values), run_kwargs
        controls = {
            "eps": widgets.FloatSlider(value=eps, min=0.0, max=2.0, step=0.1, description="ε", continuous_update=False),
            "xi": widgets.FloatSlider(value=xi, min=0.0, max=1.0, step=0.05, description="ξ", continuous_update=False),
            "activation": widgets.Dropdown(value=activation, options=list(ACTIVATIONS),
                                           description="φ"),
        }
        super().__init__(controls, dict(eps=eps, xi=xi, activation=activation))

    def _runs(self):
        return len(self.n_values) * len(self.h_values)

    def _compute(self, progress):
        v = self.values
        self.result = lazy_convergence_grid(self.n_values, self.h_values, progress=progress, eps=v["eps"],
                                            xi=v["xi"], activation=v["activation"], **self.run_kwargs)
        return self.result

    def _figure(self, result):
        v = self.values
        return lazy_convergence_figure({v["activation"]: result},
                                       title=f"Excess over R* (ε = {v['eps']:g}, ξ = {v['xi']:g}, φ = {v['activation']})")
