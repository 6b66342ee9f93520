"""Widget wiring of the adversarial-vs-regularised explorer (notebook 06). The maths is in
advexplore.experiments.adversarial_vs_regularized, the figures in advexplore.plots.adversarial_vs_regularized; this file only holds state,
caches and sliders.

Sliders: ε and ξ update live (continuous_update=True: they read cached PGD perturbations,
a few ms); width, depth, activation, n, d and the data's target refit the model and recompute
every curve (≈ 0.5–2 s at width ≤ 256, depth ≤ 4, n ≤ 500), so they fire on release
(continuous_update=False) and results are cached per setting.
"""
from __future__ import annotations

from collections import OrderedDict

import ipywidgets as widgets
import torch

from ..experiments.adversarial_vs_regularized import (ExplorerConfig, compare_training, decision_grid, explorer_data, explorer_model,
                        fitted_curves, REG_GAP_KEYS, surrogate_curve)
from ..experiments.adversarial_vs_regularized_data import TARGETS, check_target
from ..plots.adversarial_gap import adversarial_gap_figure, update_gap_figure
from ..plots.adversarial_vs_regularized import (arrow_segments, curve_values, decision_figure, gap_axis_range, risk_axis_range,
                              mark_off_scale, risk_curves_figure, set_eps_marker, training_comparison_figure,
                              weight_norm_label)
from ..models import ACTIVATIONS
from ..regularized import OMEGAS
from .figure_widget import new_figure_widget
from .refit_queue import refit_slot

MODEL_KEYS = ("width", "depth", "activation", "n", "d", "seed", "target")


class AdversarialExplorer:
    """State + figures of the explorer. `.ui` to display, `.figure` (risk curves), `.gap`
    (R_reg − R_adv), `.decision` (2-D view), `.training` (comparison, after `.train()`),
    `.update(**values)`. target: the data's g(x) (experiments.adversarial_vs_regularized_data)."""

    def __init__(self, eps=0.6, xi=0.0, width=64, depth=2, activation="relu", n=200, d=2, seed=0,
                 omega="input_gradient", train_steps=100, train_lr=0.05, attack_steps=5,
                 config: ExplorerConfig | None = None, cache_size: int = 16, target="ring"):
        self.config = config or ExplorerConfig()
        self.eps_grid = torch.linspace(0.0, self.config.eps_max, self.config.n_eps)
        self.values = dict(eps=eps, xi=xi, width=width, depth=depth, activation=activation, n=n, d=d,
                           seed=seed, target=check_target(target, d))
        self.omega, self.train_steps, self.train_lr, self.attack_steps = omega, train_steps, train_lr, attack_steps
        self._models: OrderedDict = OrderedDict()  # model key -> dict(model, x, y, curves, surface)
        self._cache_size = cache_size
        self.runs = None
        entry = self._entry()
        self.figure = new_figure_widget(risk_curves_figure(self.eps_grid, entry["curves"],
                                                           self._surrogate(entry), self.eps, self.xi))
        self.gap = new_figure_widget(adversarial_gap_figure(self.eps_grid, entry["curves"], self.eps))
        self.decision = new_figure_widget(self._decision_static(entry))
        self.training = new_figure_widget(training_comparison_figure(
            {k: {"cost": {"passes": 0, "seconds": 0.0}, "test_standard_risk": 0, "test_adversarial_risk": 0}
             for k in ("standard", "adversarial", "regularized")},
            title="press 'train' to compare adversarial and regularised training"))
        self._ui = None

    # -- state -----------------------------------------------------------------------------
    @property
    def eps(self) -> float:
        """Current ε snapped to the grid (the slider moves on it)."""
        return float(self.eps_grid[self.eps_index])

    @property
    def eps_index(self) -> int:
        step = self.config.eps_max / (self.config.n_eps - 1)
        return int(min(max(round(self.values["eps"] / step), 0), self.config.n_eps - 1))

    @property
    def xi(self) -> float:
        return float(self.values["xi"])

    def _key(self):
        return tuple(self.values[k] for k in MODEL_KEYS)

    def _entry(self) -> dict:
        key = self._key()
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        v = self.values
        entry = fitted_curves(*(v[k] for k in MODEL_KEYS[:6]), v["target"], self.config, self.eps_grid)
        entry.update(surrogate={}, surface=decision_grid(entry["model"], entry["x"]) if v["d"] == 2 else None)
        self._models[key] = entry
        if len(self._models) > self._cache_size:
            self._models.popitem(last=False)
        return entry

    def _surrogate(self, entry):
        if self.xi not in entry["surrogate"]:
            entry["surrogate"][self.xi] = surrogate_curve(entry["model"], entry["x"], entry["y"],
                                                          entry["curves"], self.xi, self.config.norm)
        return entry["surrogate"][self.xi]

    def curves(self) -> dict:
        """Every curve of the current model over the ε grid as lists (None where not computed),
        with the grid itself under "eps", the surrogate curve for the current ξ and the gap of each
        regularised risk to the adversarial one (REG_GAP_KEYS of risk_curves)."""
        entry = self._entry()
        out = {k: (None if v is None else v.tolist()) for k, v in curve_values(entry["curves"], self._surrogate(entry)).items()}
        out.update({k: entry["curves"][k].tolist() for k in REG_GAP_KEYS})  # R_reg − R_adv (best attack)
        out["eps"] = self.eps_grid.tolist()
        return out

    def fitted(self):
        """(model, x, y) of the current setting: the standard-fitted model every curve describes and
        its training data (e.g. for a check that recomputes the curves independently)."""
        entry = self._entry()
        return entry["model"], entry["x"], entry["y"]

    def current(self) -> dict:
        """The numbers at the current ε for the current model (floats), e.g. for the notebook's asserts."""
        entry, i = self._entry(), self.eps_index
        c = entry["curves"]
        out = {k: float(c[k][i]) for k in ("standard", "pgd", "weight_norm", "input_gradient",
                                           "adversarial_gap", "weight_norm_gap", "input_gradient_gap",
                                           "adversarial", "weight_norm_minus_adversarial",
                                           "input_gradient_minus_adversarial", "weight_norm_relative_gap",
                                           "input_gradient_relative_gap")}
        out["surrogate"] = float(self._surrogate(entry)[i])
        if c["exhaustive"] is not None:
            out["exhaustive"], out["pgd_subset"] = float(c["exhaustive"][i]), float(c["pgd_subset"][i])
        return out

    # -- figures ---------------------------------------------------------------------------
    def _decision_static(self, entry):
        if entry["surface"] is None:
            fig = decision_figure([0, 1], [0, 1], [[0, 0], [0, 0]], torch.zeros(1, 2), torch.zeros(1, 2), self.eps)
            fig.update_layout(title="decision function and attack directions: shown for d = 2 only")
            return fig
        u, v, f = entry["surface"]
        return decision_figure(u, v, f, entry["x"], entry["curves"]["delta"][self.eps_index], self.eps)

    def update(self, **values) -> None:
        """Slider callback (also headless and in benchmarks): set any of eps, xi, width, depth,
        activation, n, d, seed and redraw what changed inside one batch_update."""
        unknown = set(values) - set(self.values)
        if unknown:
            raise ValueError(f"unknown explorer values {sorted(unknown)}; allowed: {sorted(self.values)}")
        check_target(values.get("target", self.values["target"]), values.get("d", self.values["d"]))
        self.values.update(values)
        entry = self._entry()
        y = curve_values(entry["curves"], self._surrogate(entry))
        with self.figure.batch_update():
            for trace in self.figure.data:
                if y.get(trace.meta) is not None:
                    trace.y = y[trace.meta]
                else:
                    trace.y = [None] * len(self.eps_grid)
                if trace.meta == "weight_norm" and trace.showlegend is not False:
                    trace.name = weight_norm_label(y)
            self.figure.layout.yaxis.range = risk_axis_range(y)
            self.figure.layout.yaxis2.range = gap_axis_range(y)
            mark_off_scale(self.figure, y)   # the off-scale notes follow the curves
            set_eps_marker(self.figure, self.eps)
            self.figure.layout.title.text = f"Adversarial vs regularised risk (ξ = {self.xi:g}, ε = {self.eps:g})"
        with self.gap.batch_update():
            update_gap_figure(self.gap, entry["curves"], self.eps)
        self._update_decision(entry)

    def _update_decision(self, entry) -> None:
        if entry["surface"] is None:
            with self.decision.batch_update():
                self.decision.layout.title.text = "decision function and attack directions: shown for d = 2 only"
            return
        u, v, f = entry["surface"]
        x, delta = entry["x"].numpy(), entry["curves"]["delta"][self.eps_index].numpy()
        m = min(40, len(x))
        ax, ay = arrow_segments(x[:m], delta[:m])
        with self.decision.batch_update():
            surface, data, arrows, heads = self.decision.data
            surface.x, surface.y, surface.z = u.numpy(), v.numpy(), f.numpy()
            data.x, data.y = x[:, 0], x[:, 1]
            arrows.x, arrows.y = ax, ay
            heads.x, heads.y = x[:m, 0] + delta[:m, 0], x[:m, 1] + delta[:m, 1]
            self.decision.layout.title.text = f"Model output f(x) and PGD attack directions at ε = {self.eps:g}"

    # -- training comparison ---------------------------------------------------------------
    def train(self, progress=None) -> dict:
        """Train standard / adversarial (PGD) / regularised copies of the current architecture at
        the current ε and ξ on the current data; test on fresh data of the same size."""
        v = self.values
        entry = self._entry()
        x_test, y_test = explorer_data(v["n"], v["d"], v["seed"] + 10_000, self.config.sigma2, v["target"])
        self.runs = compare_training(
            lambda: explorer_model(v["d"], v["width"], v["depth"], v["activation"], v["seed"]),
            entry["x"], entry["y"], x_test, y_test, eps=self.eps, xi=self.xi, omega=self.omega,
            lr=self.train_lr, steps=self.train_steps, attack_steps=self.attack_steps, config=self.config,
            seed=v["seed"], progress=progress)
        new = training_comparison_figure(self.runs, title=f"Training at ε = {self.eps:g}, ξ = {self.xi:g}: "
                                                          f"cost and test risk (Ω = {self.omega})")
        with self.training.batch_update():
            for old, fresh in zip(self.training.data, new.data):
                old.x, old.y, old.text = fresh.x, fresh.y, fresh.text
            self.training.layout.title.text = new.layout.title.text
        return self.runs

    # -- sliders ---------------------------------------------------------------------------
    @property
    def ui(self):
        if self._ui is None:
            self._ui = self._build_ui()
        return self._ui

    def _build_ui(self):
        v, cfg = self.values, self.config
        live = dict(continuous_update=True)
        on_release = dict(continuous_update=False)
        controls = {
            "eps": widgets.FloatSlider(value=self.eps, min=0.0, max=cfg.eps_max, step=cfg.eps_max / (cfg.n_eps - 1),
                                       description="ε", **live),
            "xi": widgets.FloatSlider(value=v["xi"], min=0.0, max=2.0, step=0.05, description="ξ", **live),
            "width": widgets.IntSlider(value=v["width"], min=8, max=256, step=8, description="width", **on_release),
            "depth": widgets.IntSlider(value=v["depth"], min=0, max=4, description="depth (0 = linear)",
                                       style={"description_width": "initial"}, **on_release),
            "activation": widgets.Dropdown(value=v["activation"], options=list(ACTIVATIONS),
                                           description="φ"),
            "n": widgets.IntSlider(value=v["n"], min=50, max=500, step=50, description="n", **on_release),
            "d": widgets.IntSlider(value=v["d"], min=TARGETS[v["target"]][1], max=20, description="d", **on_release),
            "target": widgets.Dropdown(value=v["target"], options=list(TARGETS), description="target g(x)",
                                       style={"description_width": "initial"}),
        }
        status = widgets.Label("")
        # a target that needs d ≥ 2 (x₁x₂) raises the d slider first (observers run in order)
        controls["target"].observe(lambda change: setattr(controls["d"], "min", TARGETS[change["new"]][1]),
                                   names="value")

        def on_change(change, name):
            status.value = "computing…"
            if name in MODEL_KEYS and self._key_with(name, change["new"]) not in self._models:
                # a refit: on a teaching server, wait for a free CPU (fair queue across students)
                with refit_slot(lambda text: setattr(status, "value", text or "computing…")):
                    self.update(**{name: change["new"]})
            else:
                self.update(**{name: change["new"]})
            status.value = ""

        for name, control in controls.items():
            control.observe(lambda change, name=name: on_change(change, name), names="value")
        bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="training")
        button = widgets.Button(description="train: adversarial vs regularised", button_style="primary",
                                layout=widgets.Layout(width="300px"))
        omega = widgets.Dropdown(value=self.omega, options=list(OMEGAS), description="Ω")

        queued = widgets.Label("")

        def on_click(_):
            self.omega = omega.value
            button.disabled = True

            def progress(fraction, label):
                bar.value, bar.description = fraction, label[:20]
            try:
                with refit_slot(lambda text: setattr(queued, "value", text)):
                    self.train(progress)
            finally:
                button.disabled = False
        button.on_click(on_click)
        rows = [widgets.HBox([controls["eps"], controls["xi"], controls["activation"]]),
                widgets.HBox([controls["width"], controls["depth"]]),
                widgets.HBox([controls["n"], controls["d"], controls["target"], status])]
        return widgets.VBox(rows + [self.figure, self.gap, self.decision, widgets.HBox([button, omega, bar, queued]),
                                    self.training])

    def _key_with(self, name, value):
        values = dict(self.values, **{name: value})
        return tuple(values[k] for k in MODEL_KEYS)


def build_explorer(**kwargs) -> AdversarialExplorer:
    """The explorer of notebook 06; keyword arguments as AdversarialExplorer."""
    return AdversarialExplorer(**kwargs)
