"""The training-time attack: a lean PGD for the inner loop of adversarial training.

Why not `advexplore.pgd.pgd_attack` here: that attack scores every iterate and keeps the
per-sample best one over restarts (one extra forward per restart and `torch.where` copies),
which is right for evaluation (a tighter LOWER bound) but costs ~10 % of a PGD-10 training
step and adds nothing to Madry et al.'s recipe, which trains on the last iterate. This one
runs exactly `steps` forward/backward passes, has no data-dependent Python branches and no
host synchronisation (so CUDA runs ahead and torch.compile sees a fixed graph), and is built from
the same pieces as pgd_attack: the toolkit's input gradient, ascent direction, surrogate factor
and dual norm (advexplore.attacks) and pgd's random start and projection. Evaluation (PGD-20)
uses pgd_attack itself.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_norm
from ..attacks import (Loss, ascent_direction, clip_perturbation, dual_norm,
                       loss_and_input_gradient, surrogate_factor)
from ..pgd import project_to_ball, random_ball_point


def float_cross_entropy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy (n,), computed in float32 (logits may be bf16/fp16 under autocast)."""
    return F.cross_entropy(output.float(), y, reduction="none")


def train_pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "l2",
              steps: int = 10, alpha: float | None = None, xi: float = 0.0,
              generator: torch.Generator | None = None, *, loss: Loss | None = float_cross_entropy,
              clip: tuple[float, float] | None = (0.0, 1.0)) -> torch.Tensor:
    """δ ≈ argmax_{‖δ‖≤ε, x+δ∈[0,1]} CE(f(x+δ), y) by `steps` PGD steps from a uniform random
    start: δ ← Π_ε(δ + α u(g)), u = g/‖g‖₂ (L2) or sign g (L∞), then clipped to [0, 1].
    ξ > 0 shrinks the result like A_{ε,ξ} (paper 002 §2.1; see advexplore.pgd.pgd_attack)
    at the cost of one more forward/backward. The model is used in the mode it is in.
    Follows the attack contract `advexplore.attacks.Attack` (loss= and clip= keywords, defaults
    the float32 cross-entropy and the image box [0, 1]).

    Args: x (n, 3, H, W) in [0, 1]; y (n,) labels; alpha: default 2.5ε/steps.
    Returns δ (detached, x's shape). Example: delta = train_pgd(model, x, y, 8/255, "linf")
    """
    norm = check_norm(norm)
    alpha = 2.5 * eps / steps if alpha is None else alpha
    eps_t = torch.full((), float(eps), dtype=x.dtype, device=x.device)  # a fill kernel, not a host copy
    x = x.detach()
    delta = clip_perturbation(x, random_ball_point(x, eps_t, norm, generator), clip)
    for _ in range(steps):
        # grad w.r.t. x + δ equals grad w.r.t. δ; the unchecked form: input_gradient's finiteness
        # check would read a flag back from the device at every step
        g = loss_and_input_gradient(model, x + delta, y, loss).grad
        delta = clip_perturbation(x, project_to_ball(delta + alpha * ascent_direction(g, norm), eps_t, norm), clip)
    if xi > 0:
        delta = surrogate_factor(loss_and_input_gradient(model, x, y, loss).grad, xi, norm) * delta
    return delta.detach()


def grad_norm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                   norm: str = "l2") -> tuple[torch.Tensor, torch.Tensor]:
    """The first-order regularised surrogate of the adversarial loss (paper 000's "regularised
    risk" for a network; the adversarial loss to first order in ε, docs/theory.md §13):
        mean_i [ l(f(x_i), y_i) + ε ‖∇ₓ l(f(x_i), y_i)‖_* ],  ‖·‖_* = ‖·‖₂ (L2) or ‖·‖₁ (L∞).
    Differentiable in the parameters (double backward, create_graph=True).
    Returns (the scalar loss, the clean logits (n, classes))."""
    clean = loss_and_input_gradient(model, x, y, float_cross_entropy, create_graph=True)
    return (clean.loss + eps * dual_norm(clean.grad, norm, start_dim=1)).mean(), clean.output.float()
