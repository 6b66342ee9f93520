"""The minimiser θ*(ε) of the linear adversarial risk and its value R*(ε) (paper 002).

R_L is strictly convex (σ² > 0), so its minimiser is unique; this module finds it
exactly by reducing the d-dimensional problem to a one-dimensional root:

* L2 (Prop. 8): θ* = (Σ + κI)⁻¹Σθ0 where κ solves the stationarity condition
      κ = (ε² + ε c0 s/‖θ‖₂) / (1 + ε c0 ‖θ‖₂/s),
  computed in the eigenbasis of Σ by bisection on log κ.
* L∞: stationarity says θ* is the LASSO solution
      θ(μ) = argmin ½θᵀΣθ − θᵀΣθ0 + μ‖θ‖₁
  at μ = (ε²‖θ‖₁ + ε c0 s)/(1 + ε c0 ‖θ‖₁/s); θ(μ) is read off the exact,
  piecewise-linear LASSO path (soft thresholding for diagonal Σ, LARS otherwise),
  and μ is found by bisection.

θ* = 0 exactly once ε ≥ ε_c = ‖Σθ0‖/(c0 v) (‖·‖₂ for L2, ‖·‖_∞ for L∞): the
subgradient condition at θ = 0 (Prop. 1, Thm 9's condition ε < √π‖θ0‖/(√2 v)).

Used in notebooks/01_linear_adversarial_risk.ipynb and the linear experiments.
Derivations (paper 002, arXiv:2008.06631): docs/theory.md §2.3–2.4.
"""
from __future__ import annotations

import numpy as np
import torch

from ._validate import check_cov, check_nonnegative, check_norm, check_vector
from .linear_risk import C0, adversarial_risk

_BISECTIONS = 200


def robust_threshold(theta0, sigma2=1.0, cov=None, norm="l2") -> torch.Tensor:
    """ε_c = ‖Σθ0‖/(c0 v): for ε ≥ ε_c the robust optimum is θ* = 0 and R* = v².
    ‖·‖ is ‖·‖₂ for the L2 attack and ‖·‖_∞ for the L∞ attack."""
    th0, s2, cov, norm = _prepare(theta0, sigma2, cov, norm)
    b = th0 if cov is None else cov @ th0
    v = torch.sqrt((th0 * b).sum() + s2)
    top = b.norm() if norm == "l2" else b.abs().max()
    # θ0 = 0 and σ² = 0 make v = 0 (0/0): θ* = 0 at every ε, so ε_c = 0
    safe_v = v.clamp_min(torch.finfo(v.dtype).tiny)
    return torch.where(v > 0, top / (C0 * safe_v), torch.zeros_like(v))


def _prepare(theta0, sigma2, cov, norm):
    norm = check_norm(norm)
    th0 = check_vector(theta0, "theta0", dtype=torch.float64)
    if th0.dim() != 1:
        raise ValueError(f"theta0 must have shape (d,), got {tuple(th0.shape)}")
    s2 = check_nonnegative(sigma2, "sigma2", dtype=torch.float64)
    if s2.dim() != 0:
        raise ValueError(f"sigma2 must be a single number, got shape {tuple(s2.shape)}")
    cov = check_cov(cov, th0.shape[0], torch.float64, th0.device)
    return th0, s2, cov, norm


def robust_optimum(theta0, eps, sigma2=1.0, cov=None, norm="l2"):
    """θ*(ε) = argmin_θ R_L(θ, ε) and R*(ε) = R_L(θ*, ε) (paper 002, Prop. 8; eq. 5 and 9).

    Args:
        theta0: (d,) true coefficients.
        eps: ε ≥ 0, a number or a tensor of any shape (...) — a whole ε-grid is one call.
        sigma2: σ² ≥ 0 (a number).
        cov: (d, d) positive-definite Σ, or None for the identity.
        norm: "l2" or "linf".
    Returns:
        (theta_star, risk_star) with shapes (..., d) and (...), float64 unless theta0 is a
        float32 tensor. Exact up to double-precision root finding (relative error ~1e-12).

    Example:
        >>> th, r = robust_optimum(torch.ones(10), torch.tensor([0.0, 3.0]))
        >>> r   # σ² at ε = 0; v² = 11 at ε = 3 where θ* = 0
        tensor([ 1., 11.], dtype=torch.float64)
    """
    out_dtype = theta0.dtype if isinstance(theta0, torch.Tensor) and theta0.is_floating_point() \
        else torch.float64
    th0, s2, cov, norm = _prepare(theta0, sigma2, cov, norm)
    eps = check_nonnegative(eps, "eps", dtype=torch.float64, empty_ok=False)
    batch = eps.shape
    e = eps.reshape(-1).cpu().numpy()
    a0 = th0.cpu().numpy()
    S = None if cov is None else cov.cpu().numpy()
    solve = _solve_l2 if norm == "l2" else _solve_linf
    theta = solve(a0, e, float(s2), S)  # (B, d)
    theta_star = torch.as_tensor(theta, dtype=torch.float64).reshape(*batch, -1)
    risk_star = adversarial_risk(theta_star, th0, eps, s2, cov, norm)
    return theta_star.to(out_dtype), risk_star.to(out_dtype)


def _bisect(f, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Vectorised bisection for the sign change of f (f(lo) < 0 < f(hi) elementwise)."""
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        neg = f(mid) < 0
        lo = np.where(neg, mid, lo)
        hi = np.where(neg, hi, mid)
        if np.all(hi - lo <= 1e-15 * np.abs(hi)):
            break
    return 0.5 * (lo + hi)


def _solve_l2(a0: np.ndarray, eps: np.ndarray, s2: float, S) -> np.ndarray:
    if S is None:
        lam, U = np.ones_like(a0), None
        a = a0
    else:
        lam, U = np.linalg.eigh(S)
        a = U.T @ a0                         # θ0 in the eigenbasis
    b = lam * a                               # Σθ0 in the eigenbasis
    v = np.sqrt((lam * a * a).sum() + s2)

    def path(kappa):  # kappa (B,) -> c (B, d) coordinates of θ(κ), ‖θ‖, s
        c = b / (lam + kappa[:, None])
        tn = np.sqrt((c * c).sum(-1))
        # θ(κ) − θ0 = −κa/(λ+κ) in the eigenbasis: no cancellation for small κ (σ² = 0 case)
        s = np.sqrt((lam * (kappa[:, None] * a / (lam + kappa[:, None])) ** 2).sum(-1) + s2)
        return c, tn, s

    def stationarity(log_k, e):
        # sign of κ(s + εc0‖θ‖) − s(ε² + εc0 s/‖θ‖) for ‖θ‖ > 0, multiplied through by s, ‖θ‖
        k = np.exp(log_k)
        _, tn, s = path(k)
        return k * tn * (s + e * C0 * tn) - s * (e * e * tn + e * C0 * s)

    out = np.zeros((eps.size, a0.size))
    nonzero = (np.linalg.norm(b) > eps * C0 * v) & (eps > 0)
    out[eps == 0] = a0
    idx = np.flatnonzero(nonzero)
    if idx.size:
        e = eps[idx]
        scale = lam.max()
        lo = np.full(e.shape, np.log(scale * 1e-300 ** 0.5))
        hi = np.full(e.shape, np.log(scale * 1e150))
        # the bracket ends are of the right sign: f(κ→0) = −s·εc0 s < 0, f(κ→∞) > 0 iff nonzero
        log_k = _bisect(lambda lk: stationarity(lk, e), lo, hi)
        c, _, _ = path(np.exp(log_k))
        out[idx] = c if U is None else c @ U.T
    return out


def lasso_path(theta0: np.ndarray, S) -> tuple[np.ndarray, np.ndarray]:
    """The exact path of θ(μ) = argmin ½θᵀΣθ − θᵀΣθ0 + μ‖θ‖₁ for μ ∈ [0, ‖Σθ0‖_∞].

    Returns (mus, coefs): breakpoints in decreasing order (K,) and θ at each (K, d);
    θ(μ) is linear between breakpoints (LARS with the LASSO modification).
    """
    from sklearn.linear_model import lars_path_gram

    Sx = np.asarray(S, dtype=np.float64)
    xy = Sx @ theta0
    mus, _, coefs = lars_path_gram(Xy=xy, Gram=Sx, n_samples=1, method="lasso", alpha_min=0.0,
                                   eps=np.finfo(np.float64).tiny)
    return np.asarray(mus), np.asarray(coefs).T


def _lasso_on_path(mu: np.ndarray, a0: np.ndarray, S, path) -> np.ndarray:
    """θ(μ) for a batch of μ (B,) -> (B, d)."""
    if S is None or np.allclose(S, np.diag(np.diag(S)), atol=0.0):
        lam = np.ones_like(a0) if S is None else np.diag(S)
        bb = lam * a0
        return np.sign(bb) * np.maximum(np.abs(bb) - mu[:, None], 0.0) / lam
    mus, coefs = path
    x, fp = mus[::-1], coefs[::-1]  # increasing μ for interpolation
    j = np.clip(np.searchsorted(x, mu) - 1, 0, len(x) - 2)
    w = ((mu - x[j]) / (x[j + 1] - x[j]))[:, None]
    return (1 - w) * fp[j] + w * fp[j + 1]


def _solve_linf(a0: np.ndarray, eps: np.ndarray, s2: float, S) -> np.ndarray:
    Sm = np.eye(a0.size) if S is None else S
    b = Sm @ a0
    v = np.sqrt(a0 @ b + s2)
    mu_max = np.abs(b).max()
    diag = S is None or np.allclose(S, np.diag(np.diag(S)), atol=0.0)
    path = None if diag else lasso_path(a0, S)

    def stationarity(mu, e):
        th = _lasso_on_path(mu, a0, S, path)
        q = np.abs(th).sum(-1)
        dlt = th - a0
        s = np.sqrt(np.einsum("bi,ij,bj->b", dlt, Sm, dlt) + s2)
        # sign of μ − (ε²q + εc0 s)/(1 + εc0 q/s), multiplied through by (s + εc0 q) > 0
        return mu * (s + e * C0 * q) - s * (e * e * q + e * C0 * s)

    out = np.zeros((eps.size, a0.size))
    nonzero = (mu_max > eps * C0 * v) & (eps > 0)
    out[eps == 0] = a0
    idx = np.flatnonzero(nonzero)
    if idx.size:
        e = eps[idx]
        mu = _bisect(lambda m: stationarity(m, e), np.zeros(e.shape), np.full(e.shape, mu_max))
        out[idx] = _lasso_on_path(mu, a0, S, path)
    return out
