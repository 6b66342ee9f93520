"""Test-time evaluation: clean accuracy, PGD-20 robust accuracy (pgd_any_iterate: a sample is broken
when any iterate misclassifies it; an UPPER bound on the true robust accuracy, the attack's loss
being a LOWER bound), the adversarial gap in loss and its first-order regularised surrogate, and
AutoAttack when the optional `attacks` extra (the Adversarial Robustness Toolbox) is installed."""
from __future__ import annotations

import contextlib
import logging

import torch
from torch import nn

from ..attacks import ascent_direction, clip_perturbation, dual_norm, loss_and_input_gradient
from ..classification import autoattack_correct
from ..pgd import project_to_ball, random_ball_point
from .attack import float_cross_entropy
from .distributed import DistInfo, all_reduce_sum

log = logging.getLogger(__name__)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "l2",
             steps: int = 20, batch_size: int = 256, info: DistInfo | None = None,
             generator: torch.Generator | None = None, autocast_dtype: torch.dtype | None = None) -> dict:
    """Accuracy and mean cross-entropy on (x, y) clean and under PGD-`steps` (step 2.5ε/steps,
    one random start, inputs clipped to [0, 1]), plus surrogate = mean ε‖∇ₓl‖_* (the
    first-order regulariser of the gap; ‖·‖_* = ‖·‖₂ for L2, ‖·‖₁ for L∞).

    The robust accuracy counts a sample as broken when ANY iterate PGD evaluated misclassifies it
    (the convention of robustness evaluations; the robust loss is the highest-loss iterate's), and
    is an UPPER bound on the true robust accuracy (PGD is a lower bound on the inner max). Under torchrun each rank evaluates x[rank::world] and the sums are reduced.
    x: (n, 3, 32, 32) in [0, 1] (float, or uint8 0..255); y: (n,). The model is put in eval
    mode and restored. Returns {clean_acc, robust_acc, clean_loss, robust_loss, gap, surrogate, n}.
    """
    info = info or DistInfo(device=x.device)
    was_training = model.training
    model.eval()
    xs, ys = x[info.rank::info.world_size], y[info.rank::info.world_size]
    sums = torch.zeros(6, dtype=torch.float64, device=x.device)
    amp = (torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype is not None
           else contextlib.nullcontext())
    try:
        for start in range(0, len(xs), batch_size):
            xb = xs[start:start + batch_size]
            xb = xb.float().div(255) if xb.dtype == torch.uint8 else xb
            yb = ys[start:start + batch_size]
            with amp:
                clean = loss_and_input_gradient(model, xb, yb, float_cross_entropy)  # l_i and ∇ₓl_i
                delta, broken = pgd_any_iterate(model, xb, yb, eps, norm, steps, generator)
                with torch.no_grad():
                    out_clean = model(xb).float()
                    out_adv = model(xb + delta).float()
            robust = float_cross_entropy(out_adv, yb)
            survived = (out_clean.argmax(1) == yb) & ~broken
            sums += torch.stack([
                (out_clean.argmax(1) == yb).sum().double(), survived.sum().double(),
                clean.loss.double().sum(), robust.double().sum(),
                (eps * dual_norm(clean.grad.float(), norm, start_dim=1)).double().sum(),
                torch.tensor(float(len(yb)), dtype=torch.float64, device=x.device)])
    finally:
        model.train(was_training)
    s = all_reduce_sum(sums, info).tolist()
    n = max(s[5], 1.0)
    return {"clean_acc": s[0] / n, "robust_acc": s[1] / n, "clean_loss": s[2] / n, "robust_loss": s[3] / n,
            "gap": (s[3] - s[2]) / n, "surrogate": s[4] / n, "n": int(s[5])}


def pgd_any_iterate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str, steps: int,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD-`steps` on the cross-entropy as pgd_attack (one uniform random start, α = 2.5ε/steps,
    inputs kept in [0, 1]) in the same steps + 1 forward and `steps` backward passes, returning
    the highest-loss δ AND, per sample, whether ANY evaluated iterate was misclassified (pgd_attack
    keeps only the first). On the device, no host reads (the trainer evaluates every epoch)."""
    eps_t = torch.full((), float(eps), dtype=x.dtype, device=x.device)
    alpha = 2.5 * eps_t / steps
    x = x.detach()
    delta = clip_perturbation(x, random_ball_point(x, eps_t, norm, generator), (0.0, 1.0))
    best_delta, best_loss = delta.clone(), torch.full((x.shape[0],), -float("inf"), device=x.device)
    broken = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for step in range(steps + 1):
        out = loss_and_input_gradient(model, x + delta, y, float_cross_entropy)
        broken |= out.output.argmax(1) != y
        better = out.loss.float() > best_loss
        best_loss = torch.where(better, out.loss.float(), best_loss)
        best_delta = torch.where(better.reshape(-1, *([1] * (x.dim() - 1))), delta, best_delta)
        if step < steps:
            step_to = project_to_ball(delta + alpha * ascent_direction(out.grad, norm), eps_t, norm)
            delta = clip_perturbation(x, step_to, (0.0, 1.0))
    return best_delta.detach(), broken


def autoattack_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "l2",
                        batch_size: int = 256, version: str = "standard") -> float | None:
    """Robust accuracy under AutoAttack (Croce & Hein 2020; advexplore.classification.autoattack_correct,
    from the Adversarial Robustness Toolbox: version "standard", the ensemble, or "fast", APGD-CE)
    if the optional `attacks` extra is installed; otherwise logs why and returns None. An empty
    x (a rank's share of a small subset) gives 0.0, so counts summed over ranks stay right."""
    if len(x) == 0:
        return 0.0
    try:
        correct = autoattack_correct(model, x.float().div(255) if x.dtype == torch.uint8 else x, y, eps,
                                     norm=norm, clip=(0.0, 1.0), batch_size=batch_size, version=version)
    except ImportError as err:
        log.warning("AutoAttack skipped: %s", err)
        return None
    return correct.float().mean().item()
