"""Regularised risks that the linear identity suggests, and the adversarial gap (paper 000,
arXiv:2606.21488; derivations in docs/theory.md §9).

For a linear model max_{‖z‖≤ε} (θᵀ(x+z) − y)² = (|r| + ε‖θ‖_*)² (paper 002, eq. 5/9; docs/theory.md §2.1), so the
adversarial risk IS a regularised risk. For a general f define

    R_reg(f, ε) = (1/n) Σ_i (|f(x_i) − y_i| + ε Ω(f, x_i))²

with Ω either
  - "weight_norm"     (data-independent): the Lipschitz bound Π‖W_l‖·Lip(φ)^L of the model
                      (‖θ‖_* for a linear model). Then R_reg is a certified UPPER bound;
  - "input_gradient"  (weakly data-dependent): ‖∇_x f(x_i)‖_*, the dual norm of the local
                      linearisation (L2 → ‖·‖₂, L∞ → ‖·‖₁).
For linear f both equal the adversarial risk; for networks they part ways with it (paper 000).
"""
from __future__ import annotations

import torch
from torch import nn

from ._validate import check_batch, check_finite_value, check_nonnegative, check_norm, check_scalar, check_training_args
from .attacks import Attack, attacked_loss, dual_norm, loss_and_input_gradient
from .bounds import lipschitz_upper_bound
from .cost import count_passes
from .pgd import pgd_attack
from .training import Callback, TrainHistory

OMEGAS = ("weight_norm", "input_gradient")


def _check_omega(omega) -> str:
    if omega not in OMEGAS:
        raise ValueError(f"omega must be one of {OMEGAS}, got {omega!r}")
    return omega


def _signed_residual(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(x) − y per sample; its input gradient is ∇ₓf (y does not depend on x)."""
    if output.dim() == 2 and output.shape[1] == 1:
        output = output[:, 0]
    if output.shape != y.shape:
        raise ValueError(f"regularised risks need a scalar-output model ((n,) or (n, 1)), got {tuple(output.shape)}")
    return output - y


def residual_and_omega(model: nn.Module, x: torch.Tensor, y: torch.Tensor, omega="weight_norm",
                       norm="l2", create_graph: bool = False):
    """(|f(x) − y| of shape (n,), Ω of shape () [weight_norm] or (n,) [input_gradient]).
    create_graph=True keeps both differentiable in the parameters (for training)."""
    omega, norm = _check_omega(omega), check_norm(norm)
    check_batch(model, x, y)
    with torch.enable_grad() if create_graph else torch.no_grad():
        if omega == "weight_norm":
            return _signed_residual(model(x), y).abs(), lipschitz_upper_bound(model, norm)
        # Ω = ‖∇ₓf(x_i)‖_*, the dual norm of the local linearisation (∇ₓ(f − y) = ∇ₓf)
        residual = loss_and_input_gradient(model, x, y, _signed_residual, create_graph=create_graph)
        return residual.loss.abs(), dual_norm(residual.grad, norm, start_dim=1)


def regularized_risk(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, omega="weight_norm",
                     norm="l2", create_graph: bool = False) -> torch.Tensor:
    """R_reg = mean_i (|f(x_i) − y_i| + ε Ω)² (module docstring; paper 000).

    Args:
        model: scalar-output nn.Module. x: (n, d); y: (n,). eps: a number or a (k,) tensor
            (the whole curve over ε at the cost of one pass). omega: "weight_norm" |
            "input_gradient". norm: attack norm "l2" | "linf".
        create_graph: keep the graph (to train on R_reg).
    Returns: () for a number ε, (k,) for a (k,) tensor.
    Example:
        >>> regularized_risk(net, x, y, torch.linspace(0, 1, 11), omega="input_gradient")
    """
    check_batch(model, x, y)
    eps_t = check_nonnegative(eps, "eps", dtype=x.dtype, device=x.device, empty_ok=False)
    if eps_t.dim() > 1:
        raise ValueError("eps must be a number or a (k,) tensor")
    residual, om = residual_and_omega(model, x, y, omega, norm, create_graph)
    return ((residual + eps_t.reshape(*eps_t.shape, 1) * om) ** 2).mean(dim=-1)


def standard_risk(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """mean_i (f(x_i) − y_i)², no attack."""
    check_batch(model, x, y)
    with torch.no_grad():
        return (_signed_residual(model(x), y) ** 2).mean()


def attacked_risk(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                  attack: Attack | None = None, **attack_kwargs) -> torch.Tensor:
    """Empirical adversarial risk mean_i l(f(x_i + δ_i), y_i) with δ from `attack`
    (default pgd_attack, a LOWER bound on the true inner maximum); see attacks.attacked_loss.

    eps: a number -> (); a (k,) tensor -> (k,): the batch is stacked k times with per-sample
    radii so the whole curve costs one attack call. attack_kwargs go to the attack
    (steps, restarts, xi, generator, …)."""
    return attacked_loss(model, x, y, eps, attack or pgd_attack, norm=norm, **attack_kwargs)


def adversarial_gap(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                    attack: Attack | None = None, **attack_kwargs) -> torch.Tensor:
    """A_ε = adversarial risk − standard risk (paper 000), the adversarial risk from `attack`
    (default PGD: a lower bound, so the gap is a lower bound too). Shape like `attacked_risk`."""
    return attacked_risk(model, x, y, eps, norm, attack, **attack_kwargs) - standard_risk(model, x, y)


def regularized_train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps, omega="weight_norm",
                      norm="l2", lr: float, steps: int, optimizer: str = "adam",
                      callback: Callback | None = None) -> TrainHistory:
    """Train on R_reg (full batch) instead of the adversarial objective — the cheap stand-in.

    Each step: one forward (and for omega="input_gradient" one create_graph input-gradient
    pass, i.e. double backprop), one backward. For a linear model R_reg is exactly the
    empirical adversarial risk, so this reaches the same θ* as adversarial training.

    With eps = 0 this is plain standard training (the Ω pass is skipped).

    Args: eps ≥ 0; omega, norm as in regularized_risk; lr > 0; steps ≥ 1 (checked like
        adversarial_train's); optimizer: "adam" | "sgd"; callback(step, model, loss) as in
        adversarial_train (see advexplore.training.Callback).
    Returns: TrainHistory: train_loss[t] = R_reg before step t, xi = 0.0 (no attack), the
        callback's records and the cost (forward/backward passes, seconds).
    """
    lr, steps, params = check_training_args(model, x, y, lr, steps, callback)
    check_batch(model, x, y)
    eps = check_scalar(eps, "eps")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(params, lr=lr)
    history = TrainHistory()
    with count_passes(model) as cost:
        for step in range(steps):
            opt.zero_grad(set_to_none=True)
            if eps == 0:  # standard training: no Ω pass at all
                value = (_signed_residual(model(x), y) ** 2).mean()
            else:
                value = regularized_risk(model, x, y, eps, omega, norm, create_graph=True)
            value.backward()
            opt.step()
            history.record(step, model, check_finite_value(value.item(), "the regularised risk", f"step {step} of {steps}"),
                           0.0, callback)
    history.cost = cost.as_dict()
    return history
