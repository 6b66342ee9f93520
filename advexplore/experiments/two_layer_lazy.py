"""Experiments of paper 002 §2.2 and §3.1 on the lazy two-layer network (eq. 6), used by
notebooks/07_two_layer_lazy: Theorems 3/4 (low dimension: adversarial training with the
surrogate attack reaches the LINEAR model's optimum R*(ε) as n and h grow) and Theorems 6/7
(d ≫ n: the surrogate adversarial training loss → 0 while the adversarial test risk → v²).

Training is Algorithm 1 (advexplore.training.adversarial_train, surrogate attack A_{ε,ξ});
the trained net is scored on fresh test data by the surrogate attack (R_{N,ξ}, what the
theorems bound) and by PGD (the adversarial risk R_N, a LOWER bound).
"""
from __future__ import annotations

import math

import torch

from ..attacks import attacked_loss, squared_loss, surrogate_attack
from ..data import gaussian_data
from ..linear_risk import dimensional_effect
from ..models import TwoLayerNet
from ..pgd import pgd_attack
from ..robust_optimum import robust_optimum


def _train(net, x, y, *, eps, xi, lr, steps):
    from ..training import adversarial_train  # issue 4's Algorithm 1
    adversarial_train(net, x, y, eps=eps, xi=xi, lr=lr, steps=steps)


def attacked_test_risks(net, x, y, eps: float, xi: float, generator=None) -> dict:
    """Surrogate risk R_{N,ξ} (one-step A_{ε,ξ}) and PGD adversarial risk (LOWER bound) on (x, y)."""
    with torch.no_grad():
        standard = squared_loss(net(x), y).mean().item()
    surrogate = attacked_loss(net, x, y, eps, surrogate_attack, xi=xi).item()
    pgd = attacked_loss(net, x, y, eps, pgd_attack, steps=10, restarts=1, random_start=False,
                        generator=generator).item()
    return {"standard": standard, "surrogate": surrogate, "pgd": pgd}


def lazy_training_run(n: int, h: int, *, d: int = 5, eps: float = 0.5, xi: float = 0.1,
                      activation: str = "softplus", delta: float = 0.5, lr: float = 0.5,
                      steps: int = 300, n_test: int = 5000, seed: int = 0) -> dict:
    """Train TwoLayerNet(d, h, activation, balanced a, vanishing init) by Algorithm 1 with the
    surrogate attack on n samples of eq. 4 (θ0 = 1, Σ = I, σ² = 1); score it on n_test fresh
    samples against the linear optimum R*(ε) (Thm 3: smooth φ; Thm 4: ReLU, balanced a).

    lr is the step on θ; with ±1 output weights ‖a‖² = h, so Thm 3's η = ξh/(v²L‖a‖²) does
    not grow with h. Returns test risks, R*, v² and the excess (R_{N,ξ} − R*)/v²."""
    gen = torch.Generator().manual_seed(seed)
    theta0 = torch.ones(d)
    x, y = gaussian_data(n, theta0, generator=gen, dtype=torch.float32)
    x_test, y_test = gaussian_data(n_test, theta0, generator=gen, dtype=torch.float32)
    net = TwoLayerNet(d, h, activation=activation, delta=delta, a="balanced", generator=gen)
    _train(net, x, y, eps=eps, xi=xi, lr=lr, steps=steps)
    risks = attacked_test_risks(net, x_test, y_test, eps, xi, gen)
    _, r_star = robust_optimum(theta0.double(), eps)
    v2 = float(dimensional_effect(theta0.double()))
    return {"n": n, "h": h, **{f"test_{k}": v for k, v in risks.items()}, "R_star": float(r_star), "v2": v2,
            "excess": (risks["surrogate"] - float(r_star)) / v2}


def lazy_convergence_grid(n_values, h_values, progress=None, **kwargs) -> dict:
    """lazy_training_run over n × h; returns {"excess": (len(n), len(h)) list, "runs": [...],
    "R_star", "v2"}. progress: optional tqdm-like object with update()."""
    runs, excess = [], []
    for n in n_values:
        row = []
        for h in h_values:
            run = lazy_training_run(n, h, **kwargs)
            runs.append(run)
            row.append(run["excess"])
            if progress is not None:
                progress.update(1)
        excess.append(row)
    return {"excess": excess, "runs": runs, "R_star": runs[0]["R_star"], "v2": runs[0]["v2"],
            "n_values": list(n_values), "h_values": list(h_values)}


def high_dim_interpolation(*, n: int = 20, d: int = 200, s: int = 10, eps: float = 0.1, xi: float = 0.5,
                           h: int = 64, activation: str = "softplus", lr: float = 0.05, steps: int = 400,
                           checkpoints: int = 10, reps: int = 3, n_test: int = 2000, seed: int = 0,
                           progress=None) -> dict:
    """Thm 6/7 (d ≫ n): train TwoLayerNet from vanishing init by Algorithm 1 (surrogate attack)
    on n samples with θ0 = (1,…,1 [s times], 0,…) ∈ R^d, σ² = 1, v² = s + 1, and record at
    `checkpoints` times the surrogate adversarial TRAINING loss (→ 0, interpolation) and the
    adversarial TEST risk (→ v²: no better than θ = 0).

    Returns {"steps": (c,), "train": (reps, c), "test_surrogate": (reps, c), "test_pgd": (reps, c),
    "v2": v², "stop_step": per rep the first checkpoint with ‖f − y‖/(v√n) < 1/√log n (Thm 5's T)}."""
    theta0 = torch.zeros(d)
    theta0[:s] = 1.0
    v2 = float(dimensional_effect(theta0.double()))
    chunk = max(1, steps // checkpoints)
    out = {"steps": [chunk * (i + 1) for i in range(checkpoints)], "train": [], "test_surrogate": [],
           "test_pgd": [], "stop_step": [], "v2": v2}
    for rep in range(reps):
        gen = torch.Generator().manual_seed(seed + rep)
        x, y = gaussian_data(n, theta0, generator=gen, dtype=torch.float32)
        x_test, y_test = gaussian_data(n_test, theta0, generator=gen, dtype=torch.float32)
        net = TwoLayerNet(d, h, activation=activation, a="balanced", generator=gen)
        train, test_s, test_p, stop = [], [], [], None
        for c in range(checkpoints):
            _train(net, x, y, eps=eps, xi=xi, lr=lr, steps=chunk)
            train.append(attacked_loss(net, x, y, eps, surrogate_attack, xi=xi).item())
            risks = attacked_test_risks(net, x_test, y_test, eps, xi, gen)
            test_s.append(risks["surrogate"])
            test_p.append(risks["pgd"])
            with torch.no_grad():
                fit = (net(x) - y).norm().item() / math.sqrt(v2 * n)
            if stop is None and fit < 1 / math.sqrt(math.log(n)):
                stop = out["steps"][c]
            if progress is not None:
                progress.update(1)
        out["train"].append(train)
        out["test_surrogate"].append(test_s)
        out["test_pgd"].append(test_p)
        out["stop_step"].append(stop)
    return out


def final_risks_over_v2(hd: dict) -> dict:
    """For a high_dim_interpolation result: the last checkpoint's value averaged over the
    repetitions and divided by v², (1/R) Σ_r curve_r[−1] / v², for "train" (surrogate
    adversarial training loss, → 0 by Thm 6/7), "test_surrogate" and "test_pgd" (adversarial
    test risk, → 1: no better than θ = 0)."""
    return {key: sum(run[-1] for run in hd[key]) / len(hd[key]) / hd["v2"]
            for key in ("train", "test_surrogate", "test_pgd")}
