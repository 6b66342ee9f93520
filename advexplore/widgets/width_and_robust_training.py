"""Widget of notebooks/08_width_and_robust_training (paper 001: robust training loss vs width)."""
from __future__ import annotations

import ipywidgets as widgets

from ..experiments.width_and_robust_training import width_sweep
from ..plots.width_and_robust_training import width_figure
from .buttons import ButtonExplorer


class WidthExplorer(ButtonExplorer):
    """Paper 001: training loss against width for ε = 0 and the chosen ε."""

    def __init__(self, widths, eps=0.2, **run_kwargs):
        self.widths, self.run_kwargs = list(widths), run_kwargs
        controls = {"eps": widgets.FloatSlider(value=eps, min=0.05, max=1.0, step=0.05, description="ε",
                                               continuous_update=False)}
        super().__init__(controls, dict(eps=eps))

    def _runs(self):
        return 2 * len(self.widths)

    def _compute(self, progress):
        self.result = width_sweep(self.widths, [0.0, self.values["eps"]], progress=progress, **self.run_kwargs)
        return self.result

    def _figure(self, result):
        return width_figure(result)
