"""Widgets of the theory notebooks 07 (lazy two-layer nets) and 08 (width). Each run trains
several networks (seconds), so the controls only set values and a button starts the run,
with a progress bar; `.update(**values)` does the same headless."""
from __future__ import annotations

import ipywidgets as widgets

from ..lazy_two_layer import lazy_convergence_grid
from ..plots.lazy import lazy_convergence_figure, width_figure
from ..plots.style import new_figure_widget
from ..width import width_sweep


class _Progress:
    def __init__(self, bar: widgets.IntProgress, total: int):
        bar.max, bar.value = total, 0
        self.bar = bar

    def update(self, k: int = 1) -> None:
        self.bar.value += k


class _ButtonExplorer:
    """Controls + 'run' button + progress bar + one FigureWidget redrawn after each run."""

    def __init__(self, controls: dict, values: dict):
        self.values, self.controls = dict(values), controls
        self.bar = widgets.IntProgress(description="runs")
        self.figure = new_figure_widget(self._figure(self._compute(None)))
        self._ui = None

    def update(self, **values) -> None:
        self.values.update(values)
        fresh = self._figure(self._compute(_Progress(self.bar, self._runs())))
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


class LazyExplorer(_ButtonExplorer):
    """Thm 3/4: excess adversarial risk over R* against h, per n, for the chosen φ, ε, ξ."""

    def __init__(self, n_values, h_values, eps=0.5, xi=0.1, activation="softplus", **run_kwargs):
        self.n_values, self.h_values, self.run_kwargs = list(n_values), list(h_values), run_kwargs
        controls = {
            "eps": widgets.FloatSlider(value=eps, min=0.0, max=2.0, step=0.1, description="ε", continuous_update=False),
            "xi": widgets.FloatSlider(value=xi, min=0.0, max=1.0, step=0.05, description="ξ", continuous_update=False),
            "activation": widgets.Dropdown(value=activation, options=["softplus", "tanh", "smooth_relu", "relu"],
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


class WidthExplorer(_ButtonExplorer):
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
