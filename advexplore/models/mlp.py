"""A fully connected network of configurable width and depth (the explorer's "deep" model)."""
from __future__ import annotations

import torch
from torch import nn

from .._validate import check_norm, check_positive_int
from ..attacks import dual_norm
from .activations import ACTIVATIONS, check_activation


class MLP(nn.Module):
    """f(x) = W_{L+1} φ(W_L … φ(W_1 x + b_1) … + b_L) + b_{L+1}, L = depth hidden layers.

    Args:
        d: input dimension (inputs of shape (n, d); flatten images first).
        width: units per hidden layer. depth: number of hidden layers L ≥ 0; depth = 0 is
            the linear model f = θᵀx (+ b), for which every regularised risk of
            `advexplore.regularized` equals the adversarial risk.
        activation: "relu", "softplus", "tanh", "smooth_relu" (see models.activations).
        out_dim: 1 gives f of shape (n,) (regression, squared loss); > 1 gives logits (n, out_dim).
        bias: whether the affine maps carry a bias (PyTorch's default initialisation).
    Example:
        >>> MLP(2, width=64, depth=3)(torch.randn(5, 2)).shape
        torch.Size([5])
    Used in notebooks/06_adversarial_vs_regularized, 08_width_and_robust_training.
    """

    def __init__(self, d: int, width: int, depth: int, activation: str = "relu",
                 out_dim: int = 1, bias: bool = True):
        super().__init__()
        self.d = check_positive_int(d, "d")
        self.width = check_positive_int(width, "width")
        self.depth = check_positive_int(depth, "depth", minimum=0)
        self.out_dim = check_positive_int(out_dim, "out_dim")
        self.activation = check_activation(activation)
        self.phi = ACTIVATIONS[self.activation][0]
        sizes = [self.d] + [self.width] * self.depth + [self.out_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o, bias=bias) for i, o in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.phi(layer(x))  # (n, width)
        out = self.layers[-1](x)  # (n, out_dim)
        return out.squeeze(-1) if self.out_dim == 1 else out

    def lipschitz_bound(self, norm="l2") -> torch.Tensor:
        """Upper bound on the Lipschitz constant of f w.r.t. the attack norm (output in ‖·‖₂):
        L_φ^depth · Π_l ‖W_l‖_op, with the first factor ‖W_1‖_{∞→2} ≤ √(Σ_i ‖w_i‖₁²) for L∞.
        Exact for depth = 0 and out_dim = 1 (‖θ‖₂ resp. ‖θ‖₁). Differentiable in the weights."""
        norm = check_norm(norm)
        weights = [layer.weight for layer in self.layers]
        if norm == "l2":
            first = _spectral_norm(weights[0])
        else:
            first = dual_norm(weights[0], norm).norm()  # rows' ‖w_i‖₁ (dual of ℓ∞), then ℓ2
        bound = first
        for w in weights[1:]:
            bound = bound * _spectral_norm(w)
        return bound * ACTIVATIONS[self.activation][1] ** self.depth

    def extra_repr(self) -> str:
        return f"d={self.d}, width={self.width}, depth={self.depth}, activation={self.activation!r}"


def _spectral_norm(w: torch.Tensor) -> torch.Tensor:
    """‖W‖_op; for a single row the vector norm (same value, and subgradient 0 at W = 0, where
    the SVD-based gradient would pick an arbitrary direction)."""
    return w[0].norm() if w.shape[0] == 1 else torch.linalg.matrix_norm(w, ord=2)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (used to put width on a common axis)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def linear_model(d: int) -> MLP:
    """f(x) = θᵀx with θ initialised to 0 (MLP with depth 0, no bias) — the paper's linear model."""
    model = MLP(d, width=1, depth=0, bias=False)
    with torch.no_grad():
        model.layers[0].weight.zero_()
    return model
