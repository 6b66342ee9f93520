"""The linear experiments of paper 002 as functions (notebooks 02–05 call these and plot).

Each returns plain tensors/floats; all training is Algorithm 1 via the batched `linear_sweep`
(every member equals an `adversarial_train` run on nn.Linear(d, 1, bias=False)).
"""
from __future__ import annotations

import math

import torch

from ..data import gaussian_data
from ..linear_risk import dimensional_effect
from ..robust_optimum import robust_optimum
from ..sweeps import linear_sweep


def _datasets(reps: int, n: int, theta0: torch.Tensor, sigma2: float, seed: int):
    """reps independent datasets (x (reps, n, d), y (reps, n)) from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = zip(*[gaussian_data(n, theta0, sigma2, generator=g) for _ in range(reps)])
    return torch.stack(xs), torch.stack(ys)


def sparse_theta0(d: int, s: int, value: float = 1.0) -> torch.Tensor:
    """θ0 with its first s coordinates equal to `value`, the rest 0 (Fig. 3, Thm 9)."""
    theta0 = torch.zeros(d, dtype=torch.float64)
    theta0[:s] = value
    return theta0


def smoothing_experiment(*, d=10, n=1000, eps=3.0, xis=(0.0, 0.05), lr=3e-4, steps=600,
                         sigma2=1.0, seed=0, init="theta0") -> dict:
    """Fig. 1 (F1): train one dataset with each ξ; θ starts at θ0 (init="theta0", the
    standard-training solution, so AT has to move) or at 0 (init="zero").
    Returns {"train_loss": (len(xis), T), "test_risk": (len(xis), T) exact R_L(θ_t, ε),
    "theta": (len(xis), d) the final θ_T, "r_star", "v2", "xis", "steps"}."""
    theta0 = torch.ones(d, dtype=torch.float64)
    x, y = _datasets(1, n, theta0, sigma2, seed)
    start = theta0 if init == "theta0" else torch.zeros(d, dtype=torch.float64)
    out = linear_sweep(x, y, theta0, eps=eps, xi=list(xis), lr=lr, steps=steps, sigma2=sigma2,
                       theta_init=start)
    _, r_star = robust_optimum(theta0, eps, sigma2)
    return {"train_loss": out["train_loss"][0, 0, :, 0], "test_risk": out["test_risk"][0, 0, :, 0],
            "theta": out["theta"][0, 0, :, 0], "r_star": r_star.item(), "v2": dimensional_effect(theta0, sigma2).item(),
            "xis": list(xis), "steps": out["steps"]}


def count_rises(curve, tol: float = 1e-9) -> int:
    """How often a loss curve goes UP: #{t : curve[t+1] − curve[t] > tol}. Fig. 1 of paper 002:
    with the plain attack (ξ = 0) the training loss fluctuates near the kink of R_L at θ = 0;
    with the surrogate (ξ > 0) and a small enough step it decreases at every step (Thm 2)."""
    values = torch.tensor(curve.tolist() if hasattr(curve, "tolist") else list(curve), dtype=torch.float64)
    return int((values[1:] - values[:-1] > tol).sum())


def rises_per_xi(result: dict, tol: float = 1e-9) -> dict:
    """{ξ: count_rises of its training-loss curve} for a smoothing_experiment result."""
    return {xi: count_rises(curve, tol) for xi, curve in zip(result["xis"], result["train_loss"])}


def low_dim_convergence(*, ns=(30, 100, 300, 1000), d=10, eps=0.5, xi=0.05, lr=0.01, steps=400,
                        reps=8, sigma2=1.0, seed=0) -> dict:
    """Thm 2 (T2): for growing n, the exact adversarial risk R_L(θ_T, ε) → R* and ‖θ_T − θ*‖ → 0.
    Returns per-n means and sds over reps: "excess_risk" = R_L(θ_T) − R*, "distance" = ‖θ_T−θ*‖,
    and "theta" (len(ns), reps, d) the final θ_T."""
    theta0 = torch.ones(d, dtype=torch.float64)
    theta_star, r_star = robust_optimum(theta0, eps, sigma2)
    excess, dist, thetas = [], [], []
    for i, n in enumerate(ns):
        x, y = _datasets(reps, n, theta0, sigma2, seed + i)
        out = linear_sweep(x, y, theta0, eps=eps, xi=xi, lr=lr, steps=steps, sigma2=sigma2,
                           record_every=steps)
        excess.append(out["test_risk"][:, 0, 0, 0, -1] - r_star)
        dist.append((out["theta"][:, 0, 0, 0] - theta_star).norm(dim=-1))
        thetas.append(out["theta"][:, 0, 0, 0])
    excess, dist = torch.stack(excess), torch.stack(dist)  # (len(ns), reps)
    return {"ns": list(ns), "excess_risk_mean": excess.mean(1), "excess_risk_sd": excess.std(1),
            "distance_mean": dist.mean(1), "distance_sd": dist.std(1), "r_star": r_star.item(),
            "theta": torch.stack(thetas),
            "theta_star_norm": theta_star.norm().item()}


def interpolation_experiment(*, n=20, d=1000, s=10, eps=(0.0, 0.01, 0.1), xi=0.5, lr=0.001,
                             steps=2000, reps=100, sigma2=1.0, seed=0, record_every=20,
                             progress=False) -> dict:
    """Fig. 3 / Thm 5 (F3): zero init, d ≫ n. The surrogate adversarial TRAINING loss → 0 while
    the adversarial TEST risk → v² (the null model's risk). Returns mean and sd over reps of
    both curves, shape (len(eps), T'), and "theta" (reps, len(eps), d) the final θ_T."""
    theta0 = sparse_theta0(d, s)
    x, y = _datasets(reps, n, theta0, sigma2, seed)
    out = linear_sweep(x, y, theta0, eps=list(eps), xi=xi, lr=lr, steps=steps, sigma2=sigma2,
                       record_every=record_every, progress=progress)
    train, test = out["train_loss"][:, :, 0, 0], out["test_risk"][:, :, 0, 0]  # (reps, E, T')
    return {"steps": out["steps"], "eps": list(eps), "v2": dimensional_effect(theta0, sigma2).item(),
            "train_mean": train.mean(0), "train_sd": train.std(0),
            "test_mean": test.mean(0), "test_sd": test.std(0), "theta": out["theta"][:, :, 0, 0]}


def lasso_lambda(n: int, d: int, s: int, scale: float = 1.0) -> float:
    """λ = scale·√(s log d / n), the rate of Thm 9."""
    return scale * math.sqrt(s * math.log(d) / n)


def lasso_experiment(*, ns=(25, 50, 100, 200), d=500, s=5, eps=0.3, xi=0.05, lam_scale=1.0,
                     lr=0.01, steps=600, reps=4, sigma2=1.0, seed=0) -> dict:
    """Thm 9 (T9): sparse θ0, Σ = I. Excess adversarial risk R_L(θ̂) − R* vs n without and with
    the L1 penalty λ = lam_scale·√(s log d / n). Returns (len(ns), 2) means/sds [no LASSO, LASSO]
    and "theta" (len(ns), reps, 2, d) the final θ̂."""
    theta0 = sparse_theta0(d, s)
    _, r_star = robust_optimum(theta0, eps, sigma2)
    rows, thetas = [], []
    for i, n in enumerate(ns):
        x, y = _datasets(reps, n, theta0, sigma2, seed + i)
        lam = lasso_lambda(n, d, s, lam_scale)
        out = linear_sweep(x, y, theta0, eps=eps, xi=xi, l1=[0.0, lam], lr=lr, steps=steps,
                           sigma2=sigma2, record_every=steps)
        rows.append(out["test_risk"][:, 0, 0, :, -1] - r_star)  # (reps, 2)
        thetas.append(out["theta"][:, 0, 0])  # (reps, 2, d)
    excess = torch.stack(rows)  # (len(ns), reps, 2)
    return {"ns": list(ns), "excess_mean": excess.mean(1), "excess_sd": excess.std(1),
            "r_star": r_star.item(), "v2": dimensional_effect(theta0, sigma2).item(),
            "lambdas": [lasso_lambda(n, d, s, lam_scale) for n in ns], "theta": torch.stack(thetas)}
