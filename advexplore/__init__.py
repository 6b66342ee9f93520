"""advexplore: explore the theory of adversarial training (paper 002 and friends).

The exact linear theory lives at the top level:
adversarial_risk, surrogate_risk, robust_optimum, surrogate_attack, gaussian_data.
"""
from .attacks import input_gradient, squared_loss, surrogate_attack
from .data import gaussian_data
from .linear_risk import (
    C0,
    adversarial_risk,
    dimensional_effect,
    dual_norm,
    residual_scale,
    surrogate_risk,
)
from .robust_optimum import robust_optimum, robust_threshold

__version__ = "0.1.0"

__all__ = [
    "C0",
    "adversarial_risk",
    "dimensional_effect",
    "dual_norm",
    "gaussian_data",
    "input_gradient",
    "residual_scale",
    "robust_optimum",
    "robust_threshold",
    "squared_loss",
    "surrogate_attack",
    "surrogate_risk",
]
