"""Algorithm 1 for MANY linear models at once: seeds × ε × ξ × λ as one batched computation.

For f(x) = θᵀx the surrogate attack has a closed form (paper 002 §2.1; g = 2rθ):
  L2:  θᵀδ_i = sign(r_i) ε ‖θ‖₂ · 2|r_i|‖θ‖₂/√(4r_i²‖θ‖₂² + ξ²)
  L∞:  δ_ij  = sign(r_i) ε sign(θ_j) · 2|r_i θ_j|/(2|r_i θ_j| + ξ)
so with r̃_i = r_i + θᵀδ_i the gradient of (1/n)Σ(θᵀx̃_i − y_i)² at fixed x̃ is
(2/n)(Xᵀr̃ + Σ_i r̃_i δ_i) — no attacked copy of the data is needed for L2, and each dataset is
read once per step for all its models (batched matrix products).
Every member follows exactly the iterates of `adversarial_train` on nn.Linear(d, 1, bias=False).
Used in notebooks 03–05 and benchmarks/sweep.py. Derivation: docs/theory.md §4.
"""
from __future__ import annotations

import torch

from ._validate import check_nonnegative, check_norm, check_positive_int, check_vector
from .linear_risk import adversarial_risk


def _grid(values, name, dtype, device) -> torch.Tensor:
    t = check_nonnegative(values, name, dtype=dtype, device=device).reshape(-1)
    if t.numel() == 0:
        raise ValueError(f"{name} must hold at least one value")
    return t


def linear_attack_step(theta, x, y, eps, xi, norm):
    """One Algorithm-1 evaluation for M linear models on each of S datasets.

    theta (S, M, d), x (S, n, d), y (S, n), eps/xi (M,) -> (train loss (S, M), gradient (S, M, d)).
    Each dataset is read once for all its M models (batched matrix products).
    The zero-gradient convention of `surrogate_attack` (no attack where g = 0) is kept."""
    n = x.shape[1]
    r = torch.bmm(theta, x.transpose(1, 2)) - y[:, None, :]          # (S, M, n)
    sr = torch.sign(r)
    e, z = eps[None, :, None], xi[None, :, None]                      # (1, M, 1)
    if norm == "l2":
        tn = theta.norm(dim=-1, keepdim=True)                         # (S, M, 1)
        g = 2 * r.abs() * tn                                          # ‖∂l/∂x‖ per sample
        factor = torch.where(g > 0, g / torch.sqrt(g * g + z * z), torch.zeros_like(g))
        rt = r + sr * e * tn * factor                                 # attacked residual r̃
        coef = (rt * sr * e * factor).sum(-1, keepdim=True)           # Σ r̃_i sign(r_i) ε f_i
        unit = torch.where(tn > 0, theta / tn.clamp_min(1e-300), torch.zeros_like(theta))
        grad = (2.0 / n) * (torch.bmm(rt, x) + coef * unit)
    else:
        g = 2 * r.abs()[..., None] * theta.abs()[:, :, None, :]       # (S, M, n, d) |∂l/∂x_j|
        frac = torch.where(g > 0, g / (g + z[..., None]), torch.zeros_like(g))
        rt = r + sr * e * (frac * theta.abs()[:, :, None, :]).sum(-1)  # (S, M, n)
        delta_sum = e * torch.sign(theta) * torch.einsum("smn,smnd->smd", rt * sr, frac)
        grad = (2.0 / n) * (torch.bmm(rt, x) + delta_sum)
    return (rt * rt).mean(-1), grad


def linear_sweep(x, y, theta0, *, eps, xi=0.0, l1=0.0, lr: float, steps: int, norm="l2",
                 sigma2=1.0, cov=None, theta_init=None, record_every: int = 1,
                 progress: bool = False) -> dict:
    """Train every combination of dataset × ε × ξ × λ by Algorithm 1 in one batched loop.

    Args:
        x: (S, n, d) S datasets (seeds) or (n, d); y: (S, n) or (n,).
        theta0: (d,) true coefficients (for the exact test risk). eps, xi, l1: grids (numbers
            or 1-D tensors). lr > 0, steps ≥ 1, norm "l2"|"linf"; sigma2, cov: the population
            (for adversarial_risk). theta_init: (d,) start (default zero, as in Fig. 3).
        record_every: keep curves every k steps (and the last one).
    Returns dict of tensors with leading grid shape G = (S, len(eps), len(xi), len(l1)):
        "train_loss" (*G, T'), "test_risk" (*G, T') exact adversarial risk R_L(θ_t, ε) (eq. 5/9)
        AFTER each recorded step, "steps" (T',), "theta" (*G, d) final, and the grids.
    """
    norm = check_norm(norm)
    steps = check_positive_int(steps, "steps")
    record_every = check_positive_int(record_every, "record_every")
    lr_t = check_nonnegative(lr, "lr")
    if float(lr_t) <= 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    x = check_vector(x, "x")
    if x.dim() == 2:
        x, y = x[None], torch.as_tensor(y)[None]
    if x.dim() != 3:
        raise ValueError(f"x must have shape (n, d) or (S, n, d), got {tuple(x.shape)}")
    y = torch.as_tensor(y, dtype=x.dtype, device=x.device)
    if y.shape != x.shape[:2]:
        raise ValueError(f"y must have shape {tuple(x.shape[:2])} to match x, got {tuple(y.shape)}")
    S, n, d = x.shape
    theta0 = check_vector(theta0, "theta0", dtype=x.dtype, device=x.device)
    if theta0.shape != (d,):
        raise ValueError(f"theta0 must have shape ({d},), got {tuple(theta0.shape)}")
    E, X, L = (_grid(v, k, x.dtype, x.device) for v, k in ((eps, "eps"), (xi, "xi"), (l1, "l1")))
    G = (S, E.numel(), X.numel(), L.numel())
    mesh = torch.meshgrid(E, X, L, indexing="ij")
    e, z, lam = (m.reshape(-1) for m in mesh)                          # (M,) each
    M = e.numel()
    theta = torch.zeros(S, M, d, dtype=x.dtype, device=x.device) if theta_init is None else \
        check_vector(theta_init, "theta_init", dtype=x.dtype).expand(S, M, d).clone()
    lr = float(lr_t)
    train, test, kept = [], [], []
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc=f"{S * M} linear models", unit="step")
    for t in iterator:
        loss, grad = linear_attack_step(theta, x, y, e, z, norm)
        theta = theta - lr * grad
        theta = torch.sign(theta) * (theta.abs() - lr * lam[None, :, None]).clamp_min(0.0)  # LASSO prox
        if t % record_every == 0 or t == steps - 1:
            train.append(loss)
            test.append(adversarial_risk(theta, theta0, e, sigma2, cov, norm))
            kept.append(t)
    return {
        "train_loss": torch.stack(train, -1).reshape(*G, -1),
        "test_risk": torch.stack(test, -1).reshape(*G, -1),
        "steps": torch.tensor(kept),
        "theta": theta.reshape(*G, d),
        "eps": E, "xi": X, "l1": L,
    }
