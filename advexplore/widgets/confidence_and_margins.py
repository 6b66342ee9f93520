"""Widget of notebooks/10_confidence_and_margins. All numbers are computed before the widget is
built (advexplore.experiments.confidence_and_margins); the slider only switches between cached
results, so it updates live."""
from __future__ import annotations

import ipywidgets as widgets

from ..plots.confidence_and_margins import confidence_figure, update_confidence_figure
from .figure_widget import new_figure_widget


class ConfidenceView:
    """Paper 003 browser: an ε slider picks the adversarially trained net compared with the
    standard one (ε = 0 of the study's grid)."""

    def __init__(self, study: dict, eps: float | None = None):
        self.study = study
        self.index = len(study["eps"]) - 1 if eps is None else self._index(eps)
        self.figure = new_figure_widget(confidence_figure(study, self.index))
        self._ui = None

    def _index(self, eps: float) -> int:
        grid = self.study["eps"]
        if eps not in grid:
            raise ValueError(f"eps must be one of the trained values {grid}, got {eps!r}")
        return grid.index(eps)

    def update(self, eps: float) -> None:
        self.index = self._index(eps)
        update_confidence_figure(self.figure, self.study, self.index)

    @property
    def ui(self):
        if self._ui is None:
            slider = widgets.SelectionSlider(options=self.study["eps"], value=self.study["eps"][self.index],
                                             description="training ε", continuous_update=True)
            slider.observe(lambda c: self.update(eps=c["new"]), names="value")
            self._ui = widgets.VBox([slider, self.figure])
        return self._ui
