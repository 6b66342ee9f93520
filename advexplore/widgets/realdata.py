"""Widgets of the real-data notebooks. All numbers are computed before the widget is built
(advexplore.lasso_experiment / advexplore.confidence); the sliders only switch between cached
results, so they update live (continuous_update=True, a few ms per move)."""
from __future__ import annotations

import ipywidgets as widgets

from ..plots.realdata import (METRIC_TITLES, confidence_figure, lasso_boxplot, pair_traces,
                              update_confidence_figure)
from ..plots.style import new_figure_widget


class LassoView:
    """Fig. 4 browser: metric toggle (adversarial / standard accuracy) and an n slider choosing
    which sample size's paired repetitions the right panel shows."""

    def __init__(self, results: dict, metric: str = "adversarial", n_index: int = 0):
        self.results = results
        self.metric, self.n_index = metric, n_index
        self.figure = new_figure_widget(lasso_boxplot(results, metric, n_index))
        self._ui = None

    def update(self, metric: str | None = None, n: int | None = None) -> None:
        """metric: 'adversarial' | 'standard'; n: one of results['n']."""
        if metric is not None:
            if metric not in METRIC_TITLES:
                raise ValueError(f"metric must be one of {tuple(METRIC_TITLES)}, got {metric!r}")
            self.metric = metric
        if n is not None:
            if n not in self.results["n"]:
                raise ValueError(f"n must be one of {self.results['n']}, got {n!r}")
            self.n_index = self.results["n"].index(n)
        fresh = lasso_boxplot(self.results, self.metric, self.n_index)
        with self.figure.batch_update():
            for target, source in zip(self.figure.data, fresh.data):
                target.x, target.y = source.x, source.y
            self.figure.layout.title.text = fresh.layout.title.text
            self.figure.layout.annotations[1].text = fresh.layout.annotations[1].text

    def pairs(self) -> list[dict]:
        return pair_traces(self.results, self.metric, self.n_index)

    @property
    def ui(self):
        if self._ui is None:
            metric = widgets.ToggleButtons(options=list(METRIC_TITLES), value=self.metric, description="accuracy")
            n = widgets.SelectionSlider(options=self.results["n"], value=self.results["n"][self.n_index],
                                        description="n (right)", continuous_update=True)
            metric.observe(lambda c: self.update(metric=c["new"]), names="value")
            n.observe(lambda c: self.update(n=c["new"]), names="value")
            self._ui = widgets.VBox([widgets.HBox([metric, n]), self.figure])
        return self._ui


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
