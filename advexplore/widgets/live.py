"""A generic live figure: sliders whose change recomputes a plotly figure and copies it into
one FigureWidget in place (one batch_update message). Used by the training notebooks,
whose callbacks retrain (hundreds of ms to seconds), so sliders fire on release."""
from __future__ import annotations

import time
from typing import Callable

import ipywidgets as widgets
import plotly.graph_objects as go

from .figure_widget import new_figure_widget


class LiveFigure:
    """render(**values) -> go.Figure; `controls` maps parameter names to ipywidgets.

    .ui is the slider box above the figure; .update(**values) sets the sliders' values
    (firing the same callback a user does) and returns the seconds the redraw took."""

    def __init__(self, render: Callable[..., go.Figure], controls: dict[str, widgets.ValueWidget],
                 note: str = ""):
        self.render, self.controls = render, controls
        self.status = widgets.HTML(note)
        self.figure = new_figure_widget(render(**self.values()))
        for control in controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False  # a retrain per release, not per pixel
            control.observe(self._on_change, names="value")
        self.ui = widgets.VBox([widgets.HBox(list(controls.values())), self.status, self.figure])
        self.last_seconds = 0.0

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, _change=None) -> None:
        start = time.perf_counter()
        self.status.value = "<i>computing…</i>"
        fresh = self.render(**self.values())
        with self.figure.batch_update():
            self.figure.data = []
            self.figure.add_traces(list(fresh.data))
            self.figure.layout = fresh.layout
        self.last_seconds = time.perf_counter() - start
        self.status.value = f"<small>updated in {self.last_seconds:.2f} s</small>"

    def update(self, **values) -> float:
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; available: {sorted(self.controls)}")
        for name, value in values.items():
            self.controls[name].value = value
        return self.last_seconds


def slider(value, lo, hi, step, description, log=False):
    """A float slider with a readable label (log=True: FloatLogSlider with base 10)."""
    style = {"description_width": "initial"}
    if log:
        import math
        return widgets.FloatLogSlider(value=value, min=math.log10(lo), max=math.log10(hi), step=step,
                                      description=description, style=style, readout_format=".2g")
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description, style=style)
