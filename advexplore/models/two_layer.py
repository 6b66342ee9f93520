"""The two-layer network of paper 002, eq. 6 (lazy training: only the first layer is trained)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .._validate import check_nonnegative, check_norm, check_positive_int
from ..attacks import dual_norm
from .activations import ACTIVATIONS, check_activation


def balanced_output_weights(h: int, dtype=torch.float32) -> torch.Tensor:
    """a ∈ R^h with ‖a⁺‖ = ‖a⁻‖ (Thm 4): +1 on the first ⌈h/2⌉ units, −1 on the rest; for odd h
    the negative entries are −√(⌈h/2⌉/⌊h/2⌋) so that the two norms still match (h = 1: a = (1,))."""
    pos, neg = (h + 1) // 2, h // 2
    a = torch.ones(h, dtype=dtype)
    if neg:
        a[pos:] = -math.sqrt(pos / neg)
    return a


class TwoLayerNet(nn.Module):
    """f_θ(x) = (1/√h) Σ_j a_j φ(θ_jᵀx)   (paper 002, eq. 6).

    Only θ = (θ_1, …, θ_h) ∈ R^{d×h} is trained (a parameter of shape (d, h)); the output
    weights a are a fixed buffer. Vanishing initialisation θ_j(0) ~ N(0, I_d/(d·h^{1+δ})).

    Args:
        d: input dimension. h: number of hidden units.
        activation: "relu", "softplus" (log(1+eᶻ) − log 2, so φ(0) = 0), "tanh" or
            "smooth_relu" ((z + √(z²+s²) − s)/2 with s = 0.1); the last three satisfy Thm 3
            (C², φ(0) = 0, φ'(0) ≠ 0), ReLU is Thm 4 (use balanced a).
        delta: δ > 0 of the initialisation scale (δ = 0 allowed; inf not).
        a: "balanced" (±1, ‖a⁺‖ = ‖a⁻‖, Thm 4), "random" (Rademacher signs drawn from
            `generator`) or an explicit (h,) tensor.
        generator: torch.Generator for the initialisation (and random a).
    Shapes: x (n, d) -> f (n,).

    Example:
        >>> net = TwoLayerNet(2, 64, activation="tanh", generator=torch.Generator().manual_seed(0))
        >>> net(torch.randn(5, 2)).shape
        torch.Size([5])
    Used in notebooks/06_adversarial_vs_regularized, 07_two_layer_lazy.
    """

    def __init__(self, d: int, h: int, activation: str = "relu", delta: float = 0.5,
                 a="balanced", generator: torch.Generator | None = None):
        super().__init__()
        self.d = check_positive_int(d, "d")
        self.h = check_positive_int(h, "h")
        self.activation = check_activation(activation)
        self.delta = float(check_nonnegative(delta, "delta"))
        self.phi = ACTIVATIONS[self.activation][0]
        self.register_buffer("a", self._output_weights(a, generator))  # (h,)
        std = 1.0 / math.sqrt(self.d * self.h ** (1.0 + self.delta))
        self.theta = nn.Parameter(std * torch.randn(self.d, self.h, generator=generator))  # (d, h)

    def _output_weights(self, a, generator) -> torch.Tensor:
        if isinstance(a, torch.Tensor):
            if a.shape != (self.h,) or not torch.isfinite(a).all():
                raise ValueError(f"a must be a finite tensor of shape ({self.h},), got {tuple(a.shape)}")
            return a.detach().to(torch.get_default_dtype()).clone()
        if a == "balanced":
            return balanced_output_weights(self.h, torch.get_default_dtype())
        if a == "random":
            signs = torch.randint(0, 2, (self.h,), generator=generator)
            return (2 * signs - 1).to(torch.get_default_dtype())
        raise ValueError(f"a must be 'balanced', 'random' or a ({self.h},) tensor, got {a!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.theta  # (n, h) pre-activations θ_jᵀx
        return self.phi(z) @ self.a / math.sqrt(self.h)  # (n,)

    def lipschitz_bound(self, norm="l2") -> torch.Tensor:
        """Upper bound on sup |f(x) − f(x')|/‖x − x'‖ (‖·‖ = the attack norm), differentiable in θ.

        L_φ/√h · min(Σ_j |a_j| ‖θ_j‖_*, ‖a‖₂ ‖θ‖_op) for L2 (‖·‖_* = ‖·‖₂), and
        L_φ/√h · Σ_j |a_j| ‖θ_j‖₁ for L∞ — each φ is 1-Lipschitz so L_φ = 1."""
        norm = check_norm(norm)
        lip_phi = ACTIVATIONS[self.activation][1]
        per_unit = (self.a.abs() * dual_norm(self.theta.T, norm)).sum()  # Σ_j |a_j| ‖θ_j‖_*
        if norm == "l2":
            operator = self.a.norm() * torch.linalg.matrix_norm(self.theta, ord=2)
            bound = torch.minimum(per_unit, operator)
        else:
            bound = per_unit
        return lip_phi * bound / math.sqrt(self.h)

    def extra_repr(self) -> str:
        return f"d={self.d}, h={self.h}, activation={self.activation!r}, delta={self.delta}"
