"""Synthetic data of the linear model, paper 002 eq. 4."""
from __future__ import annotations

import torch

from .._validate import check_cov, check_nonnegative, check_positive_int, check_vector


def gaussian_data(n: int, theta0, sigma2=1.0, cov=None, generator: torch.Generator | None = None,
                  dtype=None):
    """Draw (x, y) with x ~ N(0, Σ) in R^d and y = θ0ᵀx + e, e ~ N(0, σ²) (paper 002, eq. 4).

    Args:
        n: number of samples (≥ 1). theta0: (d,). sigma2: σ² ≥ 0. cov: (d, d) SPD or None (I).
        generator: a seeded torch.Generator for reproducible draws.
        dtype: defaults to theta0's dtype (float64 for non-tensor input).
    Returns:
        x (n, d), y (n,)

    Example:
        >>> x, y = gaussian_data(1000, torch.ones(10), generator=torch.Generator().manual_seed(0))
    """
    n = check_positive_int(n, "n")
    theta0 = check_vector(theta0, "theta0", dtype=dtype)
    if theta0.dim() != 1:
        raise ValueError(f"theta0 must have shape (d,), got {tuple(theta0.shape)}")
    sigma2 = check_nonnegative(sigma2, "sigma2", dtype=theta0.dtype)
    if sigma2.dim() != 0:
        raise ValueError("sigma2 must be a single number")
    d = theta0.shape[0]
    cov = check_cov(cov, d, theta0.dtype, theta0.device)
    z = torch.randn(n, d, generator=generator, dtype=theta0.dtype, device=theta0.device)
    x = z if cov is None else z @ torch.linalg.cholesky(cov).T  # (n, d), rows ~ N(0, Σ)
    e = torch.randn(n, generator=generator, dtype=theta0.dtype, device=theta0.device)
    y = x @ theta0 + torch.sqrt(sigma2) * e  # (n,)
    return x, y
