"""advexplore: explore the theory of adversarial training (paper 002 and friends).

The exact linear theory lives at the top level:
adversarial_risk, surrogate_risk, robust_optimum, surrogate_attack, gaussian_data.
"""
from .attacks import NORMS, dual_norm, input_gradient, squared_loss, surrogate_attack
from .data import gaussian_data
from .linear_risk import (
    C0,
    adversarial_risk,
    dimensional_effect,
    residual_scale,
    surrogate_risk,
)
from .robust_optimum import robust_optimum, robust_threshold
from .bounds import certified_max_loss, exhaustive_attack_2d, lipschitz_upper_bound
from .exact import exact_max_loss
from .models import MLP, TwoLayerNet
from .pgd import pgd_attack
from .regularized import adversarial_gap, regularized_risk, regularized_train
from .sweeps import linear_sweep
from .training import TrainHistory, adversarial_train

__version__ = "0.1.0"

__all__ = [
    "C0",
    "NORMS",
    "TrainHistory",
    "adversarial_train",
    "linear_sweep",
    "MLP",
    "TwoLayerNet",
    "adversarial_gap",
    "certified_max_loss",
    "exhaustive_attack_2d",
    "lipschitz_upper_bound",
    "pgd_attack",
    "regularized_risk",
    "regularized_train",
    "adversarial_risk",
    "dimensional_effect",
    "dual_norm",
    "exact_max_loss",
    "gaussian_data",
    "input_gradient",
    "residual_scale",
    "robust_optimum",
    "robust_threshold",
    "squared_loss",
    "surrogate_attack",
    "surrogate_risk",
]
