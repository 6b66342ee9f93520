"""Sliders for the linear training notebooks 02–05 (each a LiveFigure over one experiment)."""
from __future__ import annotations

import ipywidgets as widgets

from ..experiments import linear_training as lx
from ..plots import linear_training as tp
from .live import LiveFigure, slider


def smoothing_explorer(**fixed) -> LiveFigure:
    """Notebook 02: move ξ, lr, ε; ξ = 0 is always drawn beside the chosen ξ."""
    def render(xi, lr, eps):
        return tp.smoothing_figure(lx.smoothing_experiment(xis=(0.0, xi), lr=lr, eps=eps, **fixed))
    return LiveFigure(render, {"xi": slider(0.05, 1e-3, 1.0, 0.1, "ξ", log=True),
                               "lr": slider(3e-4, 1e-5, 1e-2, 0.1, "learning rate", log=True),
                               "eps": slider(3.0, 0.0, 4.0, 0.1, "ε")})


def convergence_explorer(**fixed) -> LiveFigure:
    """Notebook 03: move ε and ξ; the curves over n are recomputed."""
    def render(eps, xi):
        return tp.convergence_figure(lx.low_dim_convergence(eps=eps, xi=xi, **fixed))
    return LiveFigure(render, {"eps": slider(0.5, 0.05, 1.1, 0.05, "ε"),
                               "xi": slider(0.05, 1e-3, 1.0, 0.1, "ξ", log=True)})


def interpolation_explorer(**fixed) -> LiveFigure:
    """Notebook 04: move ξ, the learning rate and d (n stays small: d/n ≫ 1)."""
    def render(xi, lr, d):
        return tp.interpolation_figure(lx.interpolation_experiment(xi=xi, lr=lr, d=d, **fixed))
    return LiveFigure(render, {"xi": slider(0.5, 1e-3, 2.0, 0.1, "ξ", log=True),
                               "lr": slider(1e-3, 1e-4, 3e-3, 0.1, "learning rate", log=True),
                               "d": widgets.IntSlider(value=1000, min=100, max=2000, step=100,
                                                      description="d")})


def lasso_explorer(**fixed) -> LiveFigure:
    """Notebook 05: move the λ scale (λ = c·√(s log d / n)) and ε."""
    def render(lam_scale, eps):
        return tp.lasso_figure(lx.lasso_experiment(lam_scale=lam_scale, eps=eps, **fixed))
    return LiveFigure(render, {"lam_scale": slider(1.0, 0.1, 4.0, 0.1, "λ scale c"),
                               "eps": slider(0.3, 0.0, 0.8, 0.05, "ε")})
