"""Activations φ of the networks, with φ(0) = 0 where the theory asks for it (paper 002, Thm 3)
and a Lipschitz constant for the certified upper bounds."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SMOOTH_RELU_WIDTH = 0.1  # s in the smooth ReLU below: the width of its rounded corner
LOG2 = math.log(2.0)


def smooth_relu(z: torch.Tensor, s: float = SMOOTH_RELU_WIDTH) -> torch.Tensor:
    """φ(z) = (z + √(z² + s²) − s)/2: C^∞, φ(0) = 0, φ'(0) = 1/2, 1-Lipschitz, → ReLU as s → 0."""
    return 0.5 * (z + torch.sqrt(z * z + s * s) - s)


def centered_softplus(z: torch.Tensor) -> torch.Tensor:
    """φ(z) = log(1 + eᶻ) − log 2: softplus shifted so φ(0) = 0 (Thm 3); φ'(0) = 1/2, 1-Lipschitz."""
    return F.softplus(z) - LOG2


# name -> (φ, Lipschitz constant of φ, twice differentiable with φ(0)=0, φ'(0)≠0 [Thm 3])
ACTIVATIONS = {
    "relu": (torch.relu, 1.0, False),
    "softplus": (centered_softplus, 1.0, True),
    "tanh": (torch.tanh, 1.0, True),
    "smooth_relu": (smooth_relu, 1.0, True),
}


def check_activation(name) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return name


def activation_lipschitz(name: str) -> float:
    """Lipschitz constant of φ (all four are 1-Lipschitz)."""
    return ACTIVATIONS[check_activation(name)][1]
