"""The attack toolkit: one implementation of each small piece of adversarial mathematics, used by
every attack, risk and trainer in advexplore (the WRN pipeline in advexplore.gpu included).

    NORMS, dual_norm                        the attack balls and ‖·‖_* (paper 002 eqs. 5, 9)
    per_sample_loss, loss_and_input_gradient, input_gradient     l(f(x), y) and ∇ₓl per sample
    ascent_direction, surrogate_factor      the pieces of A_ε and A_{ε,ξ} (paper 002 §2.1)
    surrogate_attack                        the (surrogate) first-order attack itself
    Attack                                  the contract every attack follows
    attacked_loss                           mean_i l(f(x_i + δ_i), y_i) under an attack
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Protocol

import torch
from torch import nn

from ._validate import NORMS, check_batch, check_clip, check_nonnegative, check_norm

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = ["NORMS", "Attack", "Loss", "LossAndGradient", "ascent_direction", "attacked_loss", "clip_perturbation",
           "dual_norm", "input_gradient", "loss_and_input_gradient", "per_sample_loss", "squared_loss",
           "surrogate_attack", "surrogate_factor"]


class Attack(Protocol):
    """The contract of every attack in advexplore (surrogate_attack, pgd.pgd_attack,
    bounds.exhaustive_attack_2d, gpu.train_pgd):

        δ = attack(model, x, y, eps, *, norm, loss, clip, xi)

    x: (n, ...) inputs, e.g. (n, d) or images (n, C, H, W); y: (n,) targets or labels; eps: ε ≥ 0.
    norm: "l2" | "linf" (the ball ‖δ_i‖ ≤ ε); loss: per-sample loss(output, y) -> (n,), None for
    the attack's default; clip: (low, high) valid input range or None; xi: ξ ≥ 0, the surrogate
    shrink of paper 002 §2.1 (0: the plain attack).
    Returns δ, detached, with x's shape and dtype (x + δ is the attacked batch). Leaves the model's
    train/eval mode and its parameters' .grad as found (gradients by torch.autograd.grad) and
    never modifies x. An attack's own settings (steps, restarts, generator, …) are further
    keywords: bind them with functools.partial.
    """

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, norm: str = ...,
                 loss: Loss | None = ..., clip: tuple[float, float] | None = ...,
                 xi: float = ...) -> torch.Tensor: ...


def dual_norm(z: torch.Tensor, norm, start_dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """‖z‖_* = max_{‖u‖≤1} zᵀu, the norm dual to the attack ball's: ‖z‖₂ for L2, ‖z‖₁ for L∞.
    So max_{‖δ‖≤ε} θᵀδ = ε‖θ‖_* (the linear identity behind paper 002 eq. 5 and eq. 9).

    Taken over the dimensions start_dim, …, last: start_dim=-1 for vectors θ of shape (..., d)
    -> (...); start_dim=1 per sample of a batch (n, ...), e.g. images (n, C, H, W) -> (n,).
    keepdim=True keeps the reduced dimensions as 1s, to broadcast against z.
    Example: dual_norm(torch.tensor([3.0, -4.0]), "linf") -> tensor(7.)
    """
    norm = check_norm(norm)
    flat = z.flatten(start_dim)  # (..., m)
    value = flat.norm(p=2, dim=-1) if norm == "l2" else flat.abs().sum(-1)
    if keepdim:
        kept = start_dim % z.dim() if z.dim() else 0
        value = value.reshape(*z.shape[:kept], *([1] * (z.dim() - kept)))
    return value


def squared_loss(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample squared loss l(f(x), y) = (f(x) − y)² (paper 002); output (n,) or (n, 1)."""
    if output.dim() == y.dim() + 1 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    if output.shape != y.shape:
        raise ValueError(f"model output of shape {tuple(output.shape)} does not match y of "
                         f"shape {tuple(y.shape)}")
    return (output - y) ** 2


def _one_per_sample(values: torch.Tensor, n: int) -> torch.Tensor:
    if values.dim() != 1 or values.shape[0] != n:  # shapes only: no host synchronisation
        raise ValueError("loss must return one value per sample (use reduction='none'), got "
                         f"shape {tuple(values.shape)} for a batch of {n}")
    return values


def per_sample_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    loss: Loss | None = None) -> torch.Tensor:
    """(n,) losses l(f(x_i), y_i); `loss` (default squared_loss) must return one value per sample."""
    return _one_per_sample((loss or squared_loss)(model(x), y), x.shape[0])


class LossAndGradient(NamedTuple):
    """What loss_and_input_gradient returns."""
    output: torch.Tensor  # f(x), e.g. (n,) or logits (n, k)
    loss: torch.Tensor    # (n,) l(f(x_i), y_i)
    grad: torch.Tensor    # x's shape: ∂l(f(x_i), y_i)/∂x_i


def loss_and_input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss | None = None,
                            *, create_graph: bool = False) -> LossAndGradient:
    """f(x), the per-sample losses and their input gradients g_i = ∂l(f(x_i), y_i)/∂x_i in one
    forward and one backward pass. g is the gradient of Σ_i l_i, which is the per-sample gradient
    when samples do not interact in the forward pass (true in eval mode; not for BatchNorm in
    train mode). torch.autograd.grad leaves the parameters' .grad untouched.

    create_graph=True keeps all three differentiable in the parameters (double backprop, for
    training on ‖∇ₓl‖_*); otherwise they are detached.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        output = model(x)
        values = _one_per_sample((loss or squared_loss)(output, y), x.shape[0])
        (g,) = torch.autograd.grad(values.sum(), x, create_graph=create_graph)
    if not create_graph:
        output, values = output.detach(), values.detach()
    return LossAndGradient(output, values, g)


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   loss: Loss | None = None) -> torch.Tensor:
    """Per-sample ∂l(f(x_i), y_i)/∂x_i, shape of x, detached (see loss_and_input_gradient, which
    skips these checks: the GPU trainer calls it every step and must not wait on the device)."""
    check_batch(model, x, y)
    return loss_and_input_gradient(model, x, y, loss).grad


def ascent_direction(g: torch.Tensor, norm) -> torch.Tensor:
    """argmax_{‖u‖≤1} gᵀu per sample: g/‖g‖₂ (L2; 0 where g = 0) or sign(g) (L∞). g: (n, ...)."""
    if check_norm(norm) == "linf":
        return torch.sign(g)
    gn = dual_norm(g, "l2", start_dim=1, keepdim=True)  # (n, 1, …)
    return torch.where(gn > 0, g / torch.where(gn > 0, gn, torch.ones_like(gn)), torch.zeros_like(g))


def surrogate_factor(g: torch.Tensor, xi, norm) -> torch.Tensor:
    """The factor by which A_{ε,ξ} shrinks A_ε (paper 002 §2.1), from g = ∂l/∂x at the clean x:

        L2:  ‖g‖₂/√(‖g‖₂² + ξ²), shape (n, 1, …)      L∞:  |g_i|/(|g_i| + ξ), g's shape.

    ξ = 0 gives 1 (A_ε itself); where g = 0 and ξ > 0 the factor is 0. xi: a number or a 0-d
    tensor ≥ 0 (a Python number keeps a CUDA caller free of host synchronisation).
    """
    norm = check_norm(norm)
    if norm == "linf":
        return g.abs() / (g.abs() + xi) if xi > 0 else torch.ones_like(g)
    gn = dual_norm(g, "l2", start_dim=1, keepdim=True)  # (n, 1, …)
    return gn / torch.sqrt(gn * gn + xi * xi) if xi > 0 else torch.ones_like(gn)


def clip_perturbation(x: torch.Tensor, delta: torch.Tensor,
                      clip: tuple[float, float] | None) -> torch.Tensor:
    """δ cut so that x + δ lies in [low, high] (no-op for clip=None)."""
    if check_clip(clip) is None:
        return delta
    return (x + delta).clamp(*clip) - x


def surrogate_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, xi=0.0,
                     norm="l2", loss: Loss | None = None,
                     clip: tuple[float, float] | None = None) -> torch.Tensor:
    """The surrogate attack A_{ε,ξ}(f, x, y) of paper 002, §2.1 (ξ = 0: A_ε, eq. 1).

    With g = ∂l(f(x), y)/∂x per sample, A_{ε,ξ} = ε · surrogate_factor(g, ξ) · ascent_direction(g):
      L2:  A_ε = ε g/‖g‖₂,        A_{ε,ξ} = ‖g‖₂/√(‖g‖₂² + ξ²) · A_ε
      L∞:  A_ε = ε sign(g),       [A_{ε,ξ}]_i = |g_i|/(|g_i| + ξ) · [A_ε]_i
    For a linear model these A_ε are the exact maximisers of the squared loss over the
    ball (loss (|r| + ε‖θ‖_*)²); for other models they are the one-step (FGM/FGSM)
    attack — use `pgd_attack` for a stronger inner maximisation. Follows `Attack`.

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
    delta = eps * surrogate_factor(g, xi_t, norm) * ascent_direction(g, norm)
    return clip_perturbation(x, delta, clip).detach()


def attacked_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, attack: Attack, *, norm="l2",
                  loss: Loss | None = None, reduction: str = "mean", return_delta: bool = False,
                  **attack_kwargs):
    """The loss under an attack, mean_i l(f(x_i + δ_i), y_i) with δ = attack(model, x, y, ε, norm=,
    loss=, **attack_kwargs): the empirical adversarial risk of paper 002 eq. 1 as far as the attack
    reaches (a LOWER bound on it for PGD; the surrogate risk R_ξ for surrogate_attack, xi=ξ).

    Args:
        eps: a number; or a (k,) tensor of radii: the batch is stacked k times with per-sample
            radii, so the whole ε-curve costs one attack call.
        attack: any `Attack` (e.g. surrogate_attack, pgd_attack). loss: default squared_loss.
        reduction: "mean" -> () or (k,); "none" -> per-sample losses (n,) or (k, n).
        return_delta: also return δ, of shape (n, ...) or (k, n, ...).
    Example:
        >>> attacked_loss(net, x, y, 0.5, pgd_attack, steps=20, restarts=3)
    """
    check_batch(model, x, y)
    eps_t = check_nonnegative(eps, "eps", dtype=x.dtype, device=x.device, empty_ok=False)
    if eps_t.dim() > 1:
        raise ValueError("eps must be a number or a (k,) tensor")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    k = eps_t.shape[0] if eps_t.dim() == 1 else None
    if k is not None:  # (k·n, ...): the batch once per radius
        x, y, eps = x.repeat(k, *([1] * (x.dim() - 1))), y.repeat(k), eps_t.repeat_interleave(x.shape[0])
    delta = attack(model, x, y, eps, norm=norm, loss=loss, **attack_kwargs)
    with torch.no_grad():
        values = per_sample_loss(model, x + delta, y, loss)  # (n,) or (k·n,)
    if k is not None:
        values, delta = values.reshape(k, -1), delta.reshape(k, -1, *delta.shape[1:])
    result = values.mean(dim=-1) if reduction == "mean" else values
    return (result, delta) if return_delta else result
