"""Data of the adversarial-vs-regularised explorer (notebook 06; paper 000): x ~ N(0, I_d) and
y = g(x) + e, e ~ N(0, σ²), for a choice of target g.

The linear target g(x) = θ0ᵀx, θ0 = (1, …, 1), is paper 002's data model (eq. 4). For a linear
MODEL the adversarial loss equals the regularised loss on any data (paper 002, eq. 5/9 before the
expectation); for a network the two part ways where the ε-ball crosses curvature of the fitted
function, so the nonlinear targets are where paper 000's gap shows:

    "abs"      g(x) = |x₁|              (one kink, along x₁ = 0)
    "sin"      g(x) = sin(3 x₁)         (curvature everywhere, period 2π/3 ≈ 2.1)
    "ring"     g(x) = 1[‖x‖₂ < 1]       (a step along the unit sphere)
    "product"  g(x) = x₁ x₂             (a saddle; needs d ≥ 2)

No plotting and no widgets here (layers import downward: core <- experiments <- plots <- widgets).
"""
from __future__ import annotations

import torch

from .._validate import check_nonnegative, check_positive_int
from ..data import gaussian_data

# name -> (formula as the notebook writes it in LaTeX, smallest input dimension d)
TARGETS = {
    "linear": (r"\theta_0^\top x", 1),
    "abs": (r"|x_1|", 1),
    "sin": (r"\sin(3 x_1)", 1),
    "ring": (r"\mathbb{1}[\|x\|_2 < 1]", 1),
    "product": (r"x_1 x_2", 2),
}


def check_target(target: str, d: int | None = None) -> str:
    """`target` if it is one of TARGETS (and defined in dimension d); ValueError naming it otherwise."""
    if not isinstance(target, str):
        raise TypeError(f"target must be a string, one of {sorted(TARGETS)}, got {type(target).__name__}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
    if d is not None and d < TARGETS[target][1]:
        raise ValueError(f"target {target!r} needs input dimension d ≥ {TARGETS[target][1]}, got d={d}")
    return target


def target_function(x: torch.Tensor, target: str = "linear") -> torch.Tensor:
    """g(x) for the rows of x (n, d) -> (n,), without noise (module docstring for the formulas)."""
    if x.dim() != 2:
        raise ValueError(f"x must be (n, d), got shape {tuple(x.shape)}")
    check_target(target, x.shape[1])
    if target == "linear":
        return x.sum(dim=1)                              # θ0 = (1, …, 1)
    if target == "abs":
        return x[:, 0].abs()
    if target == "sin":
        return torch.sin(3 * x[:, 0])
    if target == "ring":
        return (x.norm(dim=1) < 1).to(x.dtype)
    return x[:, 0] * x[:, 1]                             # product


def explorer_data(n: int, d: int, seed: int = 0, sigma2: float = 1.0, target: str = "linear"):
    """(x (n, d), y (n,)) float32 with x ~ N(0, I_d), y = g(x) + e, e ~ N(0, σ²) (module docstring).

    target="linear" is paper 002's eq. 4 with θ0 = 1, Σ = I (v² = d + σ²), drawn exactly as before
    the targets existed (same seed, same numbers). Another target draws the same x and the same
    noise e and replaces θ0ᵀx by g(x).
    Example: x, y = explorer_data(200, 2, seed=0, sigma2=0.01, target="ring")."""
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    check_target(target, d)
    sigma2 = float(check_nonnegative(sigma2, "sigma2"))
    gen = torch.Generator().manual_seed(seed)
    x, y = gaussian_data(n, torch.ones(d), sigma2, generator=gen, dtype=torch.float32)
    if target != "linear":
        noise = y - x.sum(dim=1)                         # σ·e of the same draw
        y = target_function(x, target) + noise
    return x, y


__all__ = ["TARGETS", "check_target", "explorer_data", "target_function"]
