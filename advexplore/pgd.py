"""Projected gradient ascent on the loss over the ε-ball (PGD, Madry et al. 2018): the standard
inner maximiser for networks, with random restarts. Its loss is a LOWER bound on the inner max.

Follows the attack contract `advexplore.attacks.Attack`: returns δ with x's shape, leaves the
model's train/eval mode and its parameters' .grad as found, never modifies x.
"""
from __future__ import annotations

import torch
from torch import nn

from ._validate import check_batch, check_nonnegative, check_norm, check_positive_int
from .attacks import (Loss, ascent_direction, clip_perturbation, dual_norm, input_gradient,
                      loss_and_input_gradient, per_sample_loss, surrogate_factor)


def random_ball_point(x: torch.Tensor, eps: torch.Tensor, norm: str, generator) -> torch.Tensor:
    """A point drawn uniformly from the ε-ball (L2: direction ~ N(0, I)/‖·‖, radius ε·U^{1/D}).
    Drawn on the generator's device (a CPU generator also serves CUDA inputs), then moved."""
    where = dict(generator=generator, dtype=x.dtype, device=generator.device if generator is not None else x.device)
    if norm == "linf":
        u = torch.rand(x.shape, **where).to(x.device)
        return eps * (2 * u - 1)
    noise = torch.randn(x.shape, **where).to(x.device)
    dim = x[0].numel()
    u = torch.rand(x.shape[0], **where).to(x.device)
    radius = u.pow(1.0 / dim).reshape(-1, *([1] * (x.dim() - 1)))
    # ‖·‖₂ per sample (the L2 norm is its own dual), shaped (n, 1, …) to broadcast against x
    return eps * radius * noise / dual_norm(noise, "l2", start_dim=1, keepdim=True).clamp_min(1e-30)


def project_to_ball(delta: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    """Euclidean projection onto the ε-ball of the chosen norm."""
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, eps), -eps)
    scale = eps / dual_norm(delta, "l2", start_dim=1, keepdim=True).clamp_min(1e-30)  # ‖δ_i‖₂, (n, 1, …)
    return delta * scale.clamp(max=1.0)


def pgd_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", steps: int = 10,
               step_size=None, restarts: int = 1, xi=0.0, loss: Loss | None = None,
               clip: tuple[float, float] | None = None, generator: torch.Generator | None = None,
               random_start: bool = True) -> torch.Tensor:
    """PGD on max_{‖δ‖ ≤ ε} l(f(x + δ), y) (eq. 1 of paper 002), L2 or L∞, with restarts.

    Each restart starts at a uniform random point of the ball (or at 0 with
    random_start=False) and repeats `steps` times δ ← Π_ε(δ + α·u(g)), g = ∂l/∂x at x + δ,
    u(g) = g/‖g‖₂ (L2) or sign(g) (L∞), Π_ε the projection onto the ball (then `clip`).
    Every iterate is scored and, per sample, the highest-loss iterate over all restarts is
    returned, so the attacked loss never decreases with more steps or restarts. It is a
    LOWER bound on the inner maximum; for a linear model it reaches (|r| + ε‖θ‖_*)² exactly from
    δ = 0 (random_start=False) and up to what is left of the random start otherwise.

    ξ > 0 (surrogate attack of paper 002 §2.1): the maximiser δ is shrunk like A_{ε,ξ},
    δ_ξ = ‖g₀‖/√(‖g₀‖² + ξ²)·δ (L2) or |g₀_i|/(|g₀_i| + ξ)·δ_i (L∞), g₀ = ∂l/∂x at the clean
    x. So pgd_attack(steps=1, step_size=ε, random_start=False, xi=ξ) is surrogate_attack
    and, for a linear model, every PGD with ξ gives A_{ε,ξ} exactly. (Scaling each step
    instead would wash out: the projection brings δ back to the sphere after a few steps.)

    Args:
        model: differentiable nn.Module, (n, ...) -> (n,) / (n, 1) or logits with `loss`.
        x: (n, ...) inputs, e.g. (n, d) or images (n, C, H, W); y: (n,) targets.
        eps: ε ≥ 0, a number or a (n,) tensor (per-sample radii: one call can attack the
            same batch at several ε by stacking copies). norm: "l2" or "linf".
        steps: ≥ 1 iterations. step_size: α; default 2.5ε/steps (per sample).
        restarts: ≥ 1 random restarts (the first starts at 0 when random_start is False).
        xi: ξ ≥ 0. loss: per-sample loss(output, y) -> (n,); default squared loss.
        clip: (low, high) valid input range or None. generator: torch.Generator for the starts.
        random_start: start restart 1 at a random point of the ball (else at δ = 0).
    Works under torch.autocast (δ is kept in x's dtype; the loss is compared in float32).
    Cost per restart: steps + 1 forward and `steps` backward passes (the last forward scores
    the final iterate); ξ > 0 adds one forward/backward for g₀. The model's mode is left as
    is, so a model in train mode is attacked in train mode (as in Madry et al.'s training).
    Returns:
        δ, detached, x's shape and dtype.

    Example:
        >>> delta = pgd_attack(model, x, y, eps=0.5, steps=20, restarts=3)
        >>> attacked = squared_loss(model(x + delta), y)
    """
    norm = check_norm(norm)
    eps_b = check_batch(model, x, y, eps)  # () or (n, 1, …)
    steps = check_positive_int(steps, "steps")
    restarts = check_positive_int(restarts, "restarts")
    xi = float(check_nonnegative(xi, "xi"))
    if step_size is None:
        alpha = 2.5 * eps_b / steps
    else:
        alpha = check_nonnegative(step_size, "step_size", dtype=x.dtype, device=x.device)
        if alpha.dim() != 0:
            raise ValueError("step_size must be a single number (or None for 2.5·eps/steps)")
    x = x.detach()
    best_delta = torch.zeros_like(x)
    best_loss = torch.full((x.shape[0],), -float("inf"), device=x.device)
    for restart in range(restarts):
        start_random = random_start or restart > 0
        delta = random_ball_point(x, eps_b, norm, generator) if start_random else torch.zeros_like(x)
        delta = clip_perturbation(x, delta, clip)
        for step in range(steps + 1):
            if step < steps:  # ∂l/∂(x + δ) = ∂l/∂δ
                _, values, grad = loss_and_input_gradient(model, x + delta, y, loss)  # (n,), x's shape
            else:  # the last iterate is only scored
                with torch.no_grad():
                    values = per_sample_loss(model, x + delta, y, loss)
            values = values.float()
            better = values > best_loss
            best_loss = torch.where(better, values, best_loss)
            mask = better.reshape(-1, *([1] * (x.dim() - 1)))
            best_delta = torch.where(mask, delta, best_delta)
            if step == steps:
                break
            delta = project_to_ball(delta + alpha * ascent_direction(grad.to(x.dtype), norm), eps_b, norm)
            delta = clip_perturbation(x, delta, clip)
    if xi > 0:
        g0 = input_gradient(model, x, y, loss).to(x.dtype)
        best_delta = clip_perturbation(x, surrogate_factor(g0, xi, norm) * best_delta, clip)
    return best_delta.detach()
