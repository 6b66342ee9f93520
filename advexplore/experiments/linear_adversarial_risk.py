"""The numbers behind notebook 01: the linear adversarial risk seen three ways, for one
setting of (ε, ξ, σ², d, ‖θ0‖, norm). Pure tensors; advexplore.plots.linear_adversarial_risk draws them."""
from __future__ import annotations

import math

import torch

from ..linear_risk import adversarial_risk, dimensional_effect, surrogate_risk
from ..robust_optimum import robust_optimum, robust_threshold


def uniform_theta0(d: int, theta0_norm: float) -> torch.Tensor:
    """θ0 = ‖θ0‖·1/√d: all coordinates equal, so θ*(ε) = c(ε)·θ0 for both norms (Σ = I)."""
    return torch.full((int(d),), float(theta0_norm) / math.sqrt(int(d)), dtype=torch.float64)


def linear_risk_views(eps: float, xi: float, sigma2: float, d: int, theta0_norm: float, norm: str,
                      eps_max: float = 4.0, n_path: int = 61, n_eps: int = 81, n_surrogate: int = 25,
                      t_max: float = 1.2) -> dict:
    """Everything notebook 01 plots (paper 002, eq. 5/9, Prop. 1/8, §2.1), Σ = I:

    "t", "risk_path", "risk_path_eps0": R_L(tθ0, ε) and R_L(tθ0, 0) on t ∈ [0, t_max];
    "eps_grid", "shrinkage" = ‖θ*(ε)‖/‖θ0‖, "risk_star" = R*(ε) over [0, eps_max];
    "t_star", "r_star": the optimum at the current ε (θ* = t_star·θ0);
    "t_surrogate", "surrogate", "exact": R_{L,ξ}(tθ0, ε) and R_L(tθ0, ε) on a coarser grid;
    "v2", "eps_c".
    """
    theta0 = uniform_theta0(d, theta0_norm)
    t = torch.linspace(0.0, t_max, n_path, dtype=torch.float64)
    path = t[:, None] * theta0                                        # (n_path, d)
    eps_grid = torch.linspace(0.0, eps_max, n_eps, dtype=torch.float64)
    # one solver call for the ε-grid and the current ε (the L2 solver's cost is per call)
    both = torch.cat([eps_grid, torch.tensor([float(eps)], dtype=torch.float64)])
    theta_both, risk_both = robust_optimum(theta0, both, sigma2, norm=norm)
    theta_star, risk_star, star_now, r_now = theta_both[:-1], risk_both[:-1], theta_both[-1], risk_both[-1]
    t_s = torch.linspace(0.0, t_max, n_surrogate, dtype=torch.float64)
    return {
        "t": t,
        "risk_path": adversarial_risk(path, theta0, eps, sigma2, norm=norm),
        "risk_path_eps0": adversarial_risk(path, theta0, 0.0, sigma2, norm=norm),
        "eps_grid": eps_grid,
        "shrinkage": theta_star.norm(dim=-1) / theta0.norm(),
        "risk_star": risk_star,
        "t_star": (star_now @ theta0 / (theta0 @ theta0)).item(),
        "r_star": r_now.item(),
        "t_surrogate": t_s,
        "surrogate": surrogate_risk(t_s[:, None] * theta0, theta0, eps, xi, sigma2, norm=norm),
        "exact": adversarial_risk(t_s[:, None] * theta0, theta0, eps, sigma2, norm=norm),
        "v2": dimensional_effect(theta0, sigma2).item(),
        "eps_c": robust_threshold(theta0, sigma2, norm=norm).item(),
        "eps": float(eps), "xi": float(xi),
    }
