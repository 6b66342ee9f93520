"""Attacks on differentiable models: the (surrogate) first-order attack of paper 002 §2.1.

Contract shared by every attack in advexplore: take (model, x, y, eps, …), return the
perturbation δ with the shape of x, leave the model as it was found (its train/eval
mode, its parameters' .grad) and never modify x.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._validate import check_batch, check_nonnegative, check_norm

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def squared_loss(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample squared loss l(f(x), y) = (f(x) − y)² (paper 002); output (n,) or (n, 1)."""
    if output.dim() == y.dim() + 1 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    if output.shape != y.shape:
        raise ValueError(f"model output of shape {tuple(output.shape)} does not match y of "
                         f"shape {tuple(y.shape)}")
    return (output - y) ** 2


def per_sample_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    loss: Loss | None) -> torch.Tensor:
    """(n,) losses of model on (x, y); `loss` must return one value per sample."""
    values = (loss or squared_loss)(model(x), y)
    if values.dim() != 1 or values.shape[0] != x.shape[0]:
        raise ValueError("loss must return one value per sample (use reduction='none'), got "
                         f"shape {tuple(values.shape)} for a batch of {x.shape[0]}")
    return values


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   loss: Loss | None = None) -> torch.Tensor:
    """Per-sample ∂l(f(x_i), y_i)/∂x_i, shape of x. Samples are independent in the
    forward pass, so the gradient of the summed loss is the per-sample gradient;
    torch.autograd.grad leaves the parameters' .grad untouched."""
    check_batch(model, x, y)
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        values = per_sample_loss(model, x, y, loss)
        (g,) = torch.autograd.grad(values.sum(), x)
    return g


def _check_batch(x, y, eps, name="eps"):
    return check_batch(None, x, y, eps, name, with_model=False)  # the shared checks (advexplore._validate)


def surrogate_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, xi=0.0,
                     norm="l2", loss: Loss | None = None,
                     clip: tuple[float, float] | None = None) -> torch.Tensor:
    """The surrogate attack A_{ε,ξ}(f, x, y) of paper 002, §2.1 (ξ = 0: A_ε, eq. 1).

    With g = ∂l(f(x), y)/∂x per sample:
      L2:  A_ε = ε g/‖g‖₂,        A_{ε,ξ} = ‖g‖₂/√(‖g‖₂² + ξ²) · A_ε
      L∞:  A_ε = ε sign(g),       [A_{ε,ξ}]_i = |g_i|/(|g_i| + ξ) · [A_ε]_i
    For a linear model these A_ε are the exact maximisers of the squared loss over the
    ball (loss (|r| + ε‖θ‖_*)²); for other models they are the one-step (FGM/FGSM)
    attack — use `pgd_attack` for a stronger inner maximisation.

    Zero-gradient convention: where g = 0 (L2) or g_i = 0 (L∞) the direction is
    undefined and the attack is 0 there; this is the limit ξ → 0⁺ of A_{ε,ξ} and, for
    a linear model (g = 2rθ vanishes only when r = 0 or θ = 0), it attains the maximum.

    Args:
        model: any differentiable nn.Module mapping (n, ...) -> (n,) or (n, 1) (or logits
            with a classification `loss`).
        x: (n, ...) inputs; y: (n,) targets.
        eps: radius ε ≥ 0, a number or a (n,) tensor. xi: ξ ≥ 0.
        norm: "l2" or "linf".
        loss: per-sample loss(output, y) -> (n,); default the squared loss. For classification
            pass e.g. ``lambda out, y: F.cross_entropy(out, y, reduction="none")``.
        clip: (low, high) valid input range (e.g. (0, 1) for images): δ is cut so that
            x + δ stays inside; None for unbounded inputs (the theory's setting).
    Returns:
        δ with x's shape (detached); x + δ is the attacked batch.
    """
    norm = check_norm(norm)
    eps = check_batch(model, x, y, eps)
    xi_t = check_nonnegative(xi, "xi", dtype=x.dtype, device=x.device)
    if xi_t.dim() != 0:
        raise ValueError(f"xi must be a single number, got shape {tuple(xi_t.shape)}")
    g = input_gradient(model, x, y, loss)
    if norm == "l2":
        gn = g.flatten(1).norm(dim=1).reshape(-1, *([1] * (x.dim() - 1)))  # (n, 1, ...)
        safe = torch.where(gn > 0, gn, torch.ones_like(gn))
        direction = torch.where(gn > 0, g / safe, torch.zeros_like(g))
        factor = gn / torch.sqrt(gn * gn + xi_t * xi_t) if xi_t > 0 else 1.0
        delta = eps * factor * direction
    else:
        factor = g.abs() / (g.abs() + xi_t) if xi_t > 0 else 1.0
        delta = eps * factor * torch.sign(g)
    return clip_perturbation(x, delta, clip).detach()


def clip_perturbation(x: torch.Tensor, delta: torch.Tensor,
                      clip: tuple[float, float] | None) -> torch.Tensor:
    """δ cut so that x + δ lies in [low, high] (no-op for clip=None)."""
    if clip is None:
        return delta
    low, high = clip
    if not low < high:
        raise ValueError(f"clip must be (low, high) with low < high, got {clip!r}")
    return (x + delta).clamp(low, high) - x
