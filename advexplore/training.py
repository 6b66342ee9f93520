"""Algorithm 1 of paper 002: generic adversarial training with the (surrogate) attack.

At step t: x̃_i = x_i + A_{ε,ξ_t}(f_{θ(t−1)}, x_i, y_i); hold x̃ fixed; one gradient step
on (1/n) Σ l(f_θ(x̃_i), y_i); with l1 = λ > 0 a proximal soft-threshold step adds the
LASSO penalty λ‖θ‖₁ (paper 002, §3.2). Used in notebooks 02–10.
Paper: Xing, Song & Cheng, AISTATS 2021, arXiv:2008.06631, eq. 3; see docs/theory.md §4.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

import torch
from torch import nn

from ._validate import check_batch, check_finite_value, check_norm, check_positive_int, check_scalar, check_training_args
from .attacks import Attack, per_sample_loss, surrogate_attack
from .cost import count_passes

Callback = Callable[[int, nn.Module, float], Optional[Mapping]]
"""The one callback signature of every trainer (adversarial_train, regularized.regularized_train,
experiments.adversarial_vs_regularized.fit_standard): callback(step, model, loss) is called after
step t = 0, 1, … with the model as the step left it and loss = TrainHistory.train_loss[t] (the
objective before the step); a dict it returns is kept in TrainHistory.records[t] (None: {})."""


@dataclass
class TrainHistory:
    """What a training run saw; the same type from every trainer (see `Callback`).

    train_loss[t]: the training objective before step t (for adversarial_train on the attacked
        points; for regularized_train R_reg); xi[t]: the ξ of step t's attack (0.0 where no attack
        runs: regularised and standard training); records[t]: what the callback returned after
        step t; cost: forward/backward passes and seconds of the run (cost.TrainingCost.as_dict()).
    """
    train_loss: list[float] = field(default_factory=list)
    xi: list[float] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    cost: dict = field(default_factory=dict)

    def record(self, step: int, model: nn.Module, loss: float, xi: float, callback: Callback | None) -> None:
        """Book step `step` (its loss and ξ) and call callback(step, model, loss)."""
        self.train_loss.append(loss)
        self.xi.append(xi)
        record = callback(step, model, loss) if callback is not None else None
        self.records.append(dict(record) if record else {})

    def column(self, key: str) -> list:
        """records[t][key] for every step that recorded it, e.g. history.column("test_risk")."""
        return [r[key] for r in self.records if key in r]

    def as_dict(self) -> dict:
        keys = sorted({k for r in self.records for k in r})
        return {"train_loss": self.train_loss, "xi": self.xi, "cost": self.cost,
                **{k: self.column(k) for k in keys}}


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
                      callback: Callback | None = None, xi_schedule: Mapping | Callable | None = None,
                      batch_size: int | None = None, generator: torch.Generator | None = None,
                      attack: Attack | None = None, clip=None, l1_params=None,
                      progress: bool = False) -> TrainHistory:
    """Algorithm 1 (paper 002): adversarial training by plain (minibatch) gradient descent.

    Args:
        model: any nn.Module (trained in place). x: (n, ...); y: (n,) targets or class labels.
        eps: attack radius ε ≥ 0. xi: surrogate strength ξ ≥ 0 (§2.1; 0 = plain attack A_ε).
        norm: "l2" | "linf". lr > 0: step size η. steps ≥ 1: iterations T.
        l1: λ ≥ 0, LASSO penalty λ‖θ‖₁ applied by a proximal soft-threshold step of size η·λ
            on `l1_params` (default: every weight tensor, i.e. parameters named '*weight').
        loss: per-sample loss(output, y) -> (n,) (default squared loss; cross-entropy for labels).
        callback: callback(step, model, loss) -> dict | None (`Callback`), called after each
            step; its dicts are kept in history.records (e.g. {"test_risk": adversarial_risk(θ, θ0, ε)}).
        xi_schedule: {step: factor} or callable step -> ξ (see `xi_at`).
        batch_size: minibatch size (random batch each step drawn with `generator`); None = full batch.
        attack: any `Attack`, called as attack(model, x, y, eps, xi=, norm=, loss=, clip=) -> δ;
            default `surrogate_attack` (e.g. functools.partial(pgd_attack, steps=10) for networks).
        clip: (low, high) valid input range passed to the attack.
        progress: show a tqdm bar.
    Returns:
        TrainHistory: train_loss (before each step), xi, the callback's records and the cost
        (forward/backward passes of model, attack included, and seconds).

    Example:
        >>> net = nn.Linear(10, 1, bias=False); nn.init.zeros_(net.weight)
        >>> h = adversarial_train(net, x, y, eps=3.0, xi=0.05, lr=0.01, steps=500)
    """
    norm = check_norm(norm)
    eps, xi, l1 = check_scalar(eps, "eps"), check_scalar(xi, "xi"), check_scalar(l1, "l1")
    lr, steps, params = check_training_args(model, x, y, lr, steps, callback)
    check_batch(model, x, y)
    n = x.shape[0]
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(f"batch_size must be <= n = {n}, got {batch_size}")
    if xi_schedule is not None and not (callable(xi_schedule) or isinstance(xi_schedule, Mapping)):
        raise TypeError("xi_schedule must be None, a {step: factor} mapping or a callable step -> xi")
    attack = attack or surrogate_attack
    prox = list(l1_params) if l1_params is not None else _weights(model)

    history = TrainHistory()
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="adversarial training", unit="step")
    with count_passes(model) as cost:
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
            history.record(step, model, check_finite_value(value.item(), "the training loss", f"step {step} of {steps}"),
                           xi_t, callback)
    history.cost = cost.as_dict()
    return history
