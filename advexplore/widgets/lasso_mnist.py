"""Widget of notebooks/09_lasso_mnist. All numbers are computed before the widget is built
(advexplore.experiments.lasso_mnist); the controls only switch between cached results, so they
update live (continuous_update=True, a few ms per move)."""
from __future__ import annotations

import ipywidgets as widgets

from ..plots.lasso_mnist import METRIC_TITLES, lasso_boxplot, pair_traces
from .figure_widget import new_figure_widget


class LassoView:
    """Fig. 4 browser: metric toggle (PGD / AutoAttack / standard accuracy) and an n slider choosing
    which sample size's paired repetitions the right panel shows."""

    def __init__(self, results: dict, metric: str = "adversarial", n_index: int = 0):
        self.results = results
        self.metric, self.n_index = metric, n_index
        self.figure = new_figure_widget(lasso_boxplot(results, metric, n_index))
        self._ui = None

    def update(self, metric: str | None = None, n: int | None = None) -> None:
        """metric: 'adversarial' (PGD) | 'autoattack' | 'standard'; n: one of results['n']."""
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
            measured = [m for m in METRIC_TITLES if self.results.get(m) is not None]  # no AutoAttack when off
            metric = widgets.ToggleButtons(options=measured, value=self.metric, description="accuracy")
            n = widgets.SelectionSlider(options=self.results["n"], value=self.results["n"][self.n_index],
                                        description="n (right)", continuous_update=True)
            metric.observe(lambda c: self.update(metric=c["new"]), names="value")
            n.observe(lambda c: self.update(n=c["new"]), names="value")
            self._ui = widgets.VBox([widgets.HBox([metric, n]), self.figure])
        return self._ui

