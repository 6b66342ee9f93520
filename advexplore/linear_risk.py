"""Exact population risks of the linear model under attack (paper 002, §2–3).

Data model (eq. 4): x ~ N(0, Σ), y = θ0ᵀx + e, e ~ N(0, σ²); squared loss.
For θ ∈ R^d the residual r = θᵀx − y is N(0, s²) with s² = ‖θ−θ0‖²_Σ + σ², so
every risk below is a function of (s, ‖θ‖) only: a one-dimensional computation.

Used in notebooks/01_linear_adversarial_risk.ipynb and every linear experiment.
Paper: Xing, Song & Cheng, AISTATS 2021, arXiv:2008.06631; derivations in docs/theory.md §1–3.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate

from ._validate import (
    check_cov,
    check_nonnegative,
    check_norm,
    check_same_last_dim,
    check_scalar,
    check_vector,
)
from .attacks import dual_norm  # ‖θ‖_*: ‖θ‖₂ for L2 attacks, ‖θ‖₁ for L∞ attacks

C0 = math.sqrt(2.0 / math.pi)  # E|Z| for Z ~ N(0, 1)


def sigma_norm_sq(v: torch.Tensor, cov: torch.Tensor | None) -> torch.Tensor:
    """‖v‖²_Σ = vᵀΣv over the last dimension; Σ = I when cov is None.  (...,d) -> (...)"""
    if cov is None:
        return (v * v).sum(-1)
    return torch.einsum("...i,ij,...j->...", v, cov, v)


def _prepare(theta, theta0, eps, sigma2, cov, norm, theta_name="theta"):
    norm = check_norm(norm)
    theta = check_vector(theta, theta_name)
    theta0 = check_vector(theta0, "theta0", dtype=theta.dtype, device=theta.device)
    check_same_last_dim(theta, theta0, theta_name, "theta0")
    eps = check_nonnegative(eps, "eps", dtype=theta.dtype, device=theta.device)
    sigma2 = check_nonnegative(sigma2, "sigma2", dtype=theta.dtype, device=theta.device)
    cov = check_cov(cov, theta.shape[-1], theta.dtype, theta.device)
    try:
        torch.broadcast_shapes(theta.shape[:-1], eps.shape)
    except RuntimeError as err:
        raise ValueError(f"eps of shape {tuple(eps.shape)} does not broadcast with the batch "
                         f"shape {tuple(theta.shape[:-1])} of {theta_name}") from err
    return theta, theta0, eps, sigma2, cov, norm


def residual_scale(theta, theta0, sigma2=1.0, cov=None) -> torch.Tensor:
    """s = √(‖θ−θ0‖²_Σ + σ²), the standard deviation of the residual r = θᵀx − y."""
    theta, theta0, _, sigma2, cov, _ = _prepare(theta, theta0, 0.0, sigma2, cov, "l2")
    return torch.sqrt(sigma_norm_sq(theta - theta0, cov) + sigma2)


def dimensional_effect(theta0, sigma2=1.0, cov=None) -> torch.Tensor:
    """v² = ‖θ0‖²_Σ + σ²: the risk of the null model θ = 0 at every ε (paper 002, §2)."""
    theta0 = check_vector(theta0, "theta0")
    return adversarial_risk(torch.zeros_like(theta0), theta0, 0.0, sigma2, cov)


def adversarial_risk(theta, theta0, eps, sigma2=1.0, cov=None, norm="l2") -> torch.Tensor:
    """Population adversarial risk of the linear model f(x) = θᵀx (paper 002, eq. 5 and eq. 9).

        R_L(θ, ε) = s² + ε²‖θ‖*² + 2 ε c0 ‖θ‖* s,   s² = ‖θ−θ0‖²_Σ + σ²,  c0 = √(2/π),

    with ‖θ‖* = ‖θ‖₂ for the L2 ball (eq. 5) and ‖θ‖₁ for the L∞ ball (eq. 9). It is
    E (|r| + ε‖θ‖*)², the expectation of the exactly attacked squared loss.

    Args:
        theta: (..., d) one model or a batch (a path, a grid) of models.
        theta0: (d,) the true coefficients.
        eps: attack radius ε ≥ 0, a number or a tensor broadcastable with theta.shape[:-1]
            (an ε-grid of shape (k, 1) against a path of shape (m, d) gives a (k, m) table).
        sigma2: noise variance σ² ≥ 0.
        cov: (d, d) positive-definite Σ, or None for the identity.
        norm: "l2" or "linf".
    Returns:
        tensor of shape broadcast(theta.shape[:-1], eps.shape); differentiable in θ (θ ≠ 0).

    Example:
        >>> adversarial_risk(torch.zeros(10), torch.ones(10), 3.0)   # v² = 11
        tensor(11., dtype=torch.float64)
    """
    theta, theta0, eps, sigma2, cov, norm = _prepare(theta, theta0, eps, sigma2, cov, norm)
    s2 = sigma_norm_sq(theta - theta0, cov) + sigma2
    q = dual_norm(theta, norm)
    return s2 + eps**2 * q**2 + 2 * eps * C0 * q * torch.sqrt(s2)


def _surrogate_margin(u: np.ndarray, theta_abs: np.ndarray, xi: float, norm: str) -> np.ndarray:
    """m_ξ(u): ε⁻¹ × how much the surrogate attack raises |r| when |r| = u (linear model).

    The input gradient of l = (θᵀx − y)² is g = 2rθ. L2: the factor ‖g‖/√(‖g‖²+ξ²)
    scales the exact shift ε‖θ‖₂; L∞: coordinate i keeps |g_i|/(|g_i|+ξ) of ε|θ_i|.
    u: (B,) one point per batch element, theta_abs: (B, d) -> (B,)
    """
    if norm == "l2":
        t = np.sqrt((theta_abs**2).sum(-1))  # (B,)
        g = 2.0 * u * t
        return t * g / np.sqrt(g * g + xi * xi)
    g = 2.0 * u[:, None] * theta_abs  # (B, d)
    return (theta_abs * g / (g + xi)).sum(-1)


def surrogate_risk(theta, theta0, eps, xi, sigma2=1.0, cov=None, norm="l2",
                   rtol: float = 1e-10) -> torch.Tensor:
    """Population risk under the surrogate attack A_{ε,ξ} (paper 002, §2.1, R_{L,ξ}):

        R_{L,ξ}(θ, ε) = E (|r| + ε m_ξ(|r|))²,   r ~ N(0, s²),

    where m_ξ(u) = ‖θ‖₂ · 2u‖θ‖₂/√(4u²‖θ‖₂² + ξ²) for L2 and
    Σ_i |θ_i| · 2u|θ_i|/(2u|θ_i| + ξ) for L∞ (the input gradient of the squared
    loss is 2rθ). The one-dimensional integral over |r| is computed by adaptive
    quadrature (scipy.integrate.quad_vec, vectorised over the batch); Gauss–Hermite
    would be inaccurate because of the kink of m_ξ near r = 0. ξ = 0 gives
    `adversarial_risk` exactly.

    Args as in `adversarial_risk`, plus xi ≥ 0 (a number). Returns a float64 tensor of
    the broadcast batch shape (no autograd: quadrature runs in numpy).
    """
    theta, theta0, eps, sigma2, cov, norm = _prepare(theta, theta0, eps, sigma2, cov, norm)
    rtol = check_scalar(rtol, "rtol", strict=True)
    xi_t = check_nonnegative(xi, "xi")
    if xi_t.dim() != 0:
        raise ValueError(f"xi must be a single number, got shape {tuple(xi_t.shape)}")
    xi = float(xi_t)
    if xi == 0.0:
        return adversarial_risk(theta, theta0, eps, sigma2, cov, norm).to(torch.float64)
    s = torch.sqrt(sigma_norm_sq(theta - theta0, cov) + sigma2)
    shape = torch.broadcast_shapes(s.shape, eps.shape)
    d = theta.shape[-1]
    s_np = s.detach().broadcast_to(shape).reshape(-1).double().cpu().numpy()
    eps_np = eps.detach().broadcast_to(shape).reshape(-1).double().cpu().numpy()
    th_np = theta.detach().abs().broadcast_to(shape + (d,)).reshape(-1, d).double().cpu().numpy()

    if s_np.size == 0:
        return torch.zeros(shape, dtype=torch.float64)

    # r = s·z with z half-normal (density 2φ(z) on [0, ∞)); beyond z = 40 nothing is left.
    def integrand(z: float) -> np.ndarray:
        u = s_np * z
        m = _surrogate_margin(u, th_np, xi, norm)
        return (u + eps_np * m) ** 2 * (2.0 * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))

    val, _ = integrate.quad_vec(integrand, 0.0, 40.0, epsabs=0.0, epsrel=rtol, limit=4000,
                                points=(0.25, 1.0, 2.0, 4.0, 8.0))
    return torch.as_tensor(val, dtype=torch.float64).reshape(shape)
