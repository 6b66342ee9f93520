"""Robust training loss vs width (paper 001: Gao, Cai, Li, Wang, Hsieh & Lee, Convergence of
Adversarial Training in Overparametrized Neural Networks, NeurIPS 2019, arXiv:1906.07916:
over-parameterised adversarial training converges to a robust net; robust interpolation needs
more width than standard interpolation). Used by notebooks/08_width_and_robust_training.

A one-hidden-layer network MLP(d, width, 1) is trained by Algorithm 1 with a PGD inner loop
(ε = 0: standard training) on a small noisy sample of eq. 4, and its robust TRAINING loss
(1/n) Σ max_{‖δ‖≤ε} (f(x_i+δ) − y_i)² is measured by PGD with restarts (a LOWER bound) and
bounded above by the Lipschitz certificate. Each run also reports its cost: wall time and
floating-point operations (advexplore.cost.count_flops).
"""
from __future__ import annotations

import copy
import time
from functools import partial

import torch

from ..attacks import attacked_loss, squared_loss
from ..bounds import certified_max_loss
from ..cost import count_flops
from ..data import gaussian_data
from ..models import MLP
from ..pgd import pgd_attack


def robust_training_loss(model, x, y, eps: float, generator=None) -> float:
    """PGD (20 steps, 3 restarts, first from δ = 0) estimate of the robust training loss (LOWER bound)."""
    if eps == 0:
        with torch.no_grad():
            return squared_loss(model(x), y).mean().item()
    return attacked_loss(model, x, y, eps, pgd_attack, steps=20, restarts=3, random_start=False,
                         generator=generator).item()


def _no_attack(model, x, y, eps, **_):
    return torch.zeros_like(x)  # ε = 0: standard training, no attack passes


def width_run(width: int, eps: float, *, n: int = 40, d: int = 5, activation: str = "relu",
              lr: float = 0.05, steps: int = 1500, attack_steps: int = 5, seed: int = 0) -> dict:
    """Train MLP(d, width, depth=1) by adversarial_train (PGD attack; ε = 0: standard training,
    no attack) and report the final robust training loss (PGD lower bound) and the certified
    upper bound; the cost: `seconds` (wall time of the training) and `flops` = steps ×
    `flops_per_step`, the FLOPs of one training step measured by count_flops on a copy of the
    net (every step costs the same: full batch, fixed attack steps; counting the whole run would
    slow it several times); also the training data x, y and the trained weights (state)."""
    from ..training import adversarial_train  # issue 4's Algorithm 1

    gen = torch.Generator().manual_seed(seed)
    x, y = gaussian_data(n, torch.ones(d), generator=gen, dtype=torch.float32)
    torch.manual_seed(seed)  # nn.Linear initialisation
    model = MLP(d, width, depth=1, activation=activation)
    attack = partial(pgd_attack, steps=attack_steps, random_start=False) if eps > 0 else _no_attack
    with count_flops() as step_cost:
        adversarial_train(copy.deepcopy(model), x, y, eps=eps, lr=lr, steps=1, attack=attack)
    start = time.perf_counter()
    adversarial_train(model, x, y, eps=eps, lr=lr, steps=steps, attack=attack)
    seconds = time.perf_counter() - start
    return {"width": width, "eps": eps,
            "robust_train_loss": robust_training_loss(model, x, y, eps, gen),
            "certified_upper": certified_max_loss(model, x, y, eps).mean().item(),
            "flops_per_step": step_cost.flops, "flops": steps * step_cost.flops, "seconds": seconds,
            "variance_of_y": y.var().item(), "x": x, "y": y, "state": model.state_dict()}


def width_sweep(widths, eps_values, progress=None, **kwargs) -> dict:
    """width_run for every width × ε; {"loss": {ε: [per width]}, "upper": {...}, "flops": {...} (per
    run), "flops_per_step": {...}, "seconds": {...} (wall time per run), "states": {ε: [state per
    width]}, "widths", "eps_values", "variance_of_y", "x", "y"} (every run trains on the same x, y)."""
    keys = {"loss": "robust_train_loss", "upper": "certified_upper", "flops": "flops",
            "flops_per_step": "flops_per_step", "seconds": "seconds", "states": "state"}
    out = {key: {} for key in keys}
    for eps in eps_values:
        for key in keys:
            out[key][eps] = []
        for width in widths:
            run = width_run(width, eps, **kwargs)
            for key, name in keys.items():
                out[key][eps].append(run[name])
            if progress is not None:
                progress.update(1)
    return {**out, "widths": list(widths), "eps_values": list(eps_values),
            "variance_of_y": run["variance_of_y"], "x": run["x"], "y": run["y"]}


def interpolation_threshold(sweep: dict, fraction: float = 0.05) -> float:
    """The loss below which a net counts as interpolating: fraction · Var(y), Var(y) the sample
    variance (1/(n − 1)) Σ (y_i − ȳ)² of the training targets (width_run's variance_of_y; about
    the loss of the best constant predictor)."""
    return float(fraction) * sweep["variance_of_y"]


def interpolation_width(widths, losses, threshold: float):
    """Smallest width whose training loss is ≤ threshold (None if none is)."""
    for width, value in zip(widths, losses):
        if value <= threshold:
            return width
    return None


def flops_ratio(sweep: dict) -> dict:
    """{ε: [FLOPs of the run at ε / FLOPs of the standard run (ε = 0), per width]} for every ε > 0
    of a width_sweep that has ε = 0: what robust training costs in units of standard training."""
    if 0.0 not in sweep["flops"]:
        raise ValueError(f"flops_ratio needs ε = 0 among the sweep's eps_values, got {sweep['eps_values']}")
    return {eps: [r / s for r, s in zip(sweep["flops"][eps], sweep["flops"][0.0])]
            for eps in sweep["eps_values"] if eps != 0}
