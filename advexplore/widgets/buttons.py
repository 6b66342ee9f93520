"""Widgets whose run trains networks (seconds): the controls only set values and a button
starts the run, with a progress bar; `.update(**values)` does the same headless."""
from __future__ import annotations

import ipywidgets as widgets

from .figure_widget import new_figure_widget


class Progress:
    def __init__(self, bar: widgets.IntProgress, total: int):
        bar.max, bar.value = total, 0
        self.bar = bar

    def update(self, k: int = 1) -> None:
        self.bar.value += k


class ButtonExplorer:
    """Controls + 'run' button + progress bar + one FigureWidget redrawn after each run."""

    def __init__(self, controls: dict, values: dict):
        self.values, self.controls = dict(values), controls
        self.bar = widgets.IntProgress(description="runs")
        self.figure = new_figure_widget(self._figure(self._compute(None)))
        self._ui = None

    def update(self, **values) -> None:
        self.values.update(values)
        fresh = self._figure(self._compute(Progress(self.bar, self._runs())))
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(fresh.data))
            self.figure.layout = fresh.layout

    @property
    def ui(self):
        if self._ui is None:
            button = widgets.Button(description="run", button_style="primary")
            button.on_click(lambda _: self.update(**{k: c.value for k, c in self.controls.items()}))
            self._ui = widgets.VBox([widgets.HBox(list(self.controls.values())),
                                     widgets.HBox([button, self.bar]), self.figure])
        return self._ui
