"""The training-time attack: a lean PGD for the inner loop of adversarial training.

Why not `advexplore.pgd.pgd_attack` here: that attack scores every iterate and keeps the
per-sample best one over restarts (one extra forward per restart and `torch.where` copies),
which is right for evaluation (a tighter LOWER bound) but costs ~10 % of a PGD-10 training
step and adds nothing to Madry et al.'s recipe, which trains on the last iterate. This one
runs exactly `steps` forward/backward passes, has no data-dependent Python branches and no
host synchronisation (so CUDA runs ahead and torch.compile sees a fixed graph), and reuses the
same random start, projection, ascent direction and surrogate shrink as pgd_attack. Evaluation
(PGD-20) uses pgd_attack itself.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..pgd import ascent_direction, project_to_ball, random_ball_point, surrogate_shrink  # shared with pgd_attack


def input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂/∂x of the summed cross-entropy (so row i is ∂l_i/∂x_i), detached."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x).float(), y, reduction="sum")
        return torch.autograd.grad(loss, x)[0].detach()


def train_pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "l2",
              steps: int = 10, alpha: float | None = None, xi: float = 0.0,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """δ ≈ argmax_{‖δ‖≤ε, x+δ∈[0,1]} CE(f(x+δ), y) by `steps` PGD steps from a uniform random
    start: δ ← Π_ε(δ + α u(g)), u = g/‖g‖₂ (L2) or sign g (L∞), then clipped to [0, 1].
    ξ > 0 shrinks the result like A_{ε,ξ} (paper 002 §2.1; see advexplore.pgd.pgd_attack)
    at the cost of one more forward/backward. The model is used in the mode it is in.

    Args: x (n, 3, H, W) in [0, 1]; y (n,) labels; alpha: default 2.5ε/steps.
    Returns δ (detached, x's shape). Example: delta = train_pgd(model, x, y, 8/255, "linf")
    """
    alpha = 2.5 * eps / steps if alpha is None else alpha
    eps_t = torch.full((), float(eps), dtype=x.dtype, device=x.device)  # a fill kernel, not a host copy
    x = x.detach()
    delta = random_ball_point(x, eps_t, norm, generator)
    delta = (x + delta).clamp_(0, 1) - x
    for _ in range(steps):
        g = input_grad(model, x + delta, y)  # grad w.r.t. x + δ equals grad w.r.t. δ
        delta = project_to_ball(delta + alpha * ascent_direction(g, norm), eps_t, norm)
        delta = (x + delta).clamp_(0, 1) - x
    if xi > 0:
        delta = surrogate_shrink(input_grad(model, x, y), xi, norm) * delta
    return delta.detach()


def grad_norm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                   norm: str = "l2") -> tuple[torch.Tensor, torch.Tensor]:
    """The first-order regularised surrogate of the adversarial loss (paper 000's "regularised
    risk" for a network; the adversarial loss to first order in ε, docs/theory.md §13):
        mean_i [ l(f(x_i), y_i) + ε ‖∇ₓ l(f(x_i), y_i)‖_* ],  ‖·‖_* = ‖·‖₂ (L2) or ‖·‖₁ (L∞).
    Differentiable in the parameters (double backward, create_graph=True).
    Returns (the scalar loss, the clean logits (n, classes))."""
    x = x.detach().requires_grad_(True)
    output = model(x).float()
    losses = F.cross_entropy(output, y, reduction="none")
    (g,) = torch.autograd.grad(losses.sum(), x, create_graph=True)
    dual = g.flatten(1).norm(p=2 if norm == "l2" else 1, dim=1)
    return (losses + eps * dual).mean(), output
