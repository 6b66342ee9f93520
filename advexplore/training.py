"""Algorithm 1 of paper 002: generic adversarial training with the (surrogate) attack.

At step t: x̃_i = x_i + A_{ε,ξ_t}(f_{θ(t−1)}, x_i, y_i); hold x̃ fixed; one gradient step
on (1/n) Σ l(f_θ(x̃_i), y_i); with l1 = λ > 0 a proximal soft-threshold step adds the
LASSO penalty λ‖θ‖₁ (paper 002, §3.2). Used in notebooks 02–10.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import torch
from torch import nn

from ._validate import check_batch, check_finite_value, check_norm, check_positive_int, check_scalar
from .attacks import per_sample_loss, surrogate_attack


@dataclass
class TrainHistory:
    """What `adversarial_train` saw. train_loss[t] is the (surrogate) adversarial training loss
    on the attacked points BEFORE step t; xi[t] the ξ used; records[t] what the callback returned."""
    train_loss: list[float] = field(default_factory=list)
    xi: list[float] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)

    def column(self, key: str) -> list:
        """records[t][key] for every step that recorded it, e.g. history.column("test_risk")."""
        return [r[key] for r in self.records if key in r]

    def __getitem__(self, key: str) -> list:  # history["loss"] reads like regularized_train's dict
        return self.train_loss if key in ("loss", "train_loss") else \
            self.xi if key == "xi" else self.column(key)

    def as_dict(self) -> dict:
        keys = sorted({k for r in self.records for k in r})
        return {"train_loss": self.train_loss, "xi": self.xi, **{k: self.column(k) for k in keys}}


def xi_at(step: int, xi: float, schedule) -> float:
    """ξ at `step`: schedule None (constant), a callable step -> ξ, or {step: factor}
    multiplying ξ from that step on (Fig. 2: ×0.1 at each learning-rate drop)."""
    if schedule is None:
        return xi
    if callable(schedule):
        return float(schedule(step))
    factor = 1.0
    for at, f in schedule.items():
        if step >= at:
            factor *= f
    return xi * factor


def soft_threshold_(params: Iterable[torch.Tensor], threshold: float) -> None:
    """In place p ← sign(p)·max(|p| − threshold, 0): the proximal step of threshold·‖p‖₁."""
    with torch.no_grad():
        for p in params:
            p.copy_(torch.sign(p) * (p.abs() - threshold).clamp_min(0.0))


def _weights(model: nn.Module) -> list[torch.Tensor]:
    """The LASSO acts on weight tensors (names ending in 'weight'), not on biases."""
    return [p for name, p in model.named_parameters() if p.requires_grad and name.endswith("weight")]


def adversarial_train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps, xi=0.0, norm="l2",
                      lr: float, steps: int, l1: float = 0.0, loss=None,
                      callback: Callable | None = None, xi_schedule: Mapping | Callable | None = None,
                      batch_size: int | None = None, generator: torch.Generator | None = None,
                      attack: Callable | None = None, clip=None, l1_params=None,
                      progress: bool = False) -> TrainHistory:
    """Algorithm 1 (paper 002): adversarial training by plain (minibatch) gradient descent.

    Args:
        model: any nn.Module (trained in place). x: (n, ...); y: (n,) targets or class labels.
        eps: attack radius ε ≥ 0. xi: surrogate strength ξ ≥ 0 (§2.1; 0 = plain attack A_ε).
        norm: "l2" | "linf". lr > 0: step size η. steps ≥ 1: iterations T.
        l1: λ ≥ 0, LASSO penalty λ‖θ‖₁ applied by a proximal soft-threshold step of size η·λ
            on `l1_params` (default: every weight tensor, i.e. parameters named '*weight').
        loss: per-sample loss(output, y) -> (n,) (default squared loss; cross-entropy for labels).
        callback: callback(step, model) -> dict | None, called after each step; its dicts are
            kept in history.records (e.g. {"test_risk": adversarial_risk(θ, θ0, ε)}).
        xi_schedule: {step: factor} or callable step -> ξ (see `xi_at`).
        batch_size: minibatch size (random batch each step drawn with `generator`); None = full batch.
        attack: attack(model, x, y, eps, xi=, norm=, loss=, clip=) -> δ; default
            `surrogate_attack` (e.g. functools.partial(pgd_attack, steps=10) for networks).
        clip: (low, high) valid input range passed to the attack.
        progress: show a tqdm bar.
    Returns:
        TrainHistory with train_loss (before each step), xi and the callback's records.

    Example:
        >>> net = nn.Linear(10, 1, bias=False); nn.init.zeros_(net.weight)
        >>> h = adversarial_train(net, x, y, eps=3.0, xi=0.05, lr=0.01, steps=500)
    """
    norm = check_norm(norm)
    eps, xi, l1 = check_scalar(eps, "eps"), check_scalar(xi, "xi"), check_scalar(l1, "l1")
    lr = check_scalar(lr, "lr", strict=True)
    steps = check_positive_int(steps, "steps")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_batch(model, x, y)
    n = x.shape[0]
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size must be <= n = {n}, got {batch_size}")
    if xi_schedule is not None and not (callable(xi_schedule) or isinstance(xi_schedule, Mapping)):
        raise TypeError("xi_schedule must be None, a {step: factor} mapping or a callable step -> xi")
    attack = attack or surrogate_attack
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    prox = list(l1_params) if l1_params is not None else _weights(model)

    history = TrainHistory()
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="adversarial training", unit="step")
    for step in iterator:
        if batch_size is None:
            xb, yb = x, y
        else:
            idx = torch.randperm(n, generator=generator)[:batch_size].to(x.device)
            xb, yb = x[idx], y[idx]
        xi_t = xi_at(step, xi, xi_schedule)
        delta = attack(model, xb, yb, eps, xi=xi_t, norm=norm, loss=loss, clip=clip)
        x_adv = (xb + delta).detach()  # held fixed for the parameter step (Algorithm 1)
        with torch.enable_grad():
            value = per_sample_loss(model, x_adv, yb, loss).mean()
            grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
        if l1 > 0:
            soft_threshold_(prox, lr * l1)
        history.train_loss.append(check_finite_value(value.item(), "the training loss", f"step {step} of {steps}"))
        history.xi.append(xi_t)
        record = callback(step, model) if callback is not None else None
        history.records.append(dict(record) if record else {})
    return history
