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


class _ReLUForwardSoftplusBackward(torch.autograd.Function):
    """y = relu(x) on the way forward; dy/dx := sigmoid(β x) = d softplus_β(x)/dx on the way
    back (Xie et al. 2020, "smooth adversarial training"; paper 002 §2.2, Fig. 2)."""

    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(ctx.beta * x), None


def relu_softplus_grad(x: torch.Tensor, beta: float = 10.0) -> torch.Tensor:
    """ReLU forward, Softplus(β) backward: forward relu(x), gradient σ(βx) (the derivative of
    softplus_β(x) = log(1 + e^{βx})/β), so attacks and training see smooth gradients while the
    network computes exactly what a ReLU network computes (paper 002, Fig. 2 with β = 10).

    Example:
        >>> relu_softplus_grad(torch.tensor([-1.0, 2.0]), beta=10.0)   # tensor([0., 2.])
    """
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta > 0:
        raise ValueError(f"beta must be a positive number, got {beta!r}")
    return _ReLUForwardSoftplusBackward.apply(x, float(beta))


class ReLUSoftplusGrad(torch.nn.Module):
    """nn.Module form of relu_softplus_grad (ReLU forward, Softplus(β) backward)."""

    def __init__(self, beta: float = 10.0):
        super().__init__()
        relu_softplus_grad(torch.zeros(1), beta)  # validates beta
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu_softplus_grad(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
