"""Estimates of the inner maximum max_{‖δ‖≤ε} l(f(x+δ), y) that bracket PGD:
an exhaustive search of the ε-ball for inputs of dimension ≤ 2 (a lower bound up to the grid),
and certified UPPER bounds: from a Lipschitz constant, (|f(x) − y| + ε·Lip(f))², and for ReLU
nets from interval bound propagation (IBP) and CROWN's linear relaxation of f over the ball.
The exact value (MILP, region enumeration) and the LP relaxation are in advexplore.exact.

Ordering that the tests check: PGD ≤ exhaustive ≤ exact ≤ LP ≤ CROWN ≤ IBP, exact ≤ Lipschitz.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import check_batch, check_clip, check_nonnegative, check_norm, check_positive_int
from .attacks import (Loss, clip_perturbation, dual_norm, input_gradient, per_sample_loss, squared_loss,
                      surrogate_factor)
from .models.piecewise_linear import affine_layers


def lipschitz_upper_bound(model: nn.Module, norm="l2") -> torch.Tensor:
    """Lip(f) w.r.t. the attack norm, bounded by layer norms × Lip(φ) (see the model's
    `lipschitz_bound`); also accepts a bare nn.Linear with one output (exact: ‖θ‖_*).
    Differentiable in the weights (it is also the data-independent regulariser Ω)."""
    norm = check_norm(norm)
    if hasattr(model, "lipschitz_bound"):
        return model.lipschitz_bound(norm)
    if isinstance(model, nn.Linear) and model.out_features == 1:
        return dual_norm(model.weight[0], norm)
    raise TypeError(f"no Lipschitz bound known for {type(model).__name__}; use TwoLayerNet, MLP or "
                    "nn.Linear(d, 1), or give the model a lipschitz_bound(norm) method")


METHODS = ("weight_norm", "ibp", "crown")


def certified_max_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                       method="weight_norm") -> torch.Tensor:
    """UPPER bound on max_{‖δ‖≤ε} (f(x+δ) − y)² (squared loss, scalar output).

    method="weight_norm" (default; any model with `lipschitz_bound`): |f(x+δ) − y| ≤
        |f(x) − y| + ε·Lip(f), so (|f(x) − y| + ε·Lip)² ≥ max loss.
    method="ibp" | "crown" (ReLU nets, see models.piecewise_linear): a certified interval
        [L, U] ∋ f(x+δ) over the ball (`output_bounds`), so max((U − y)², (L − y)²) ≥ max loss.
    All are exact for a linear model (Lip = ‖θ‖_*: paper 002, eq. 5/9; docs/theory.md §2.1 and §8). The LP
    relaxation of the exact MILP, tighter still, is advexplore.exact.lp_max_loss.

    eps: a number -> (n,); a (k,) tensor of radii -> (k, n) (one bound per ε)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (the LP relaxation is "
                         f"advexplore.exact.lp_max_loss), got {method!r}")
    check_batch(model, x, y)
    eps_t = check_nonnegative(eps, "eps", dtype=x.dtype, device=x.device, empty_ok=False)
    if method != "weight_norm":
        rows = [interval_max_loss(model, x, y, e, norm, method) for e in eps_t.reshape(-1)]
        return torch.stack(rows).reshape(*eps_t.shape, x.shape[0])
    with torch.no_grad():
        residual = (model(x).reshape(x.shape[0]) - y).abs()  # (n,)
        lip = lipschitz_upper_bound(model, norm)
    return (residual + eps_t.reshape(*eps_t.shape, 1) * lip) ** 2


def interval_max_loss(model, x, y, eps, norm="l2", method="crown") -> torch.Tensor:
    """max over f ∈ [L, U] of (f − y)² = max((U − y)², (L − y)²), [L, U] from `output_bounds`;
    eps a number or (n,) per-sample radii. (n,) in x's dtype."""
    lower, upper = output_bounds(model, x, eps, norm, method)
    y64 = y.detach().to(torch.float64)
    return torch.maximum((upper - y64) ** 2, (lower - y64) ** 2).to(x.dtype)


def output_bounds(model: nn.Module, x: torch.Tensor, eps, norm="l2", method="crown"):
    """Certified (L, U), each (n,) float64, with L ≤ f(x_i + δ) ≤ U for all ‖δ‖ ≤ ε_i."""
    lower, upper = preactivation_bounds(affine_layers(model), x, eps, norm, method)[-1]
    return lower[:, 0], upper[:, 0]


def _dual_rows(w: torch.Tensor, norm: str) -> torch.Tensor:
    """‖w_j‖_* of every row (last dim): ℓ2 for the L2 ball, ℓ1 for the L∞ ball."""
    return w.norm(dim=-1) if norm == "l2" else w.abs().sum(dim=-1)


def preactivation_bounds(layers, x: torch.Tensor, eps, norm="l2", method="crown"):
    """[(l_k, u_k)] for k = 1 … L+1: intervals, each (n, width_k) float64, holding the output
    of the k-th affine map of `layers` (models.piecewise_linear) for every x_i + δ, ‖δ‖ ≤ ε_i.

    Layer 1 is exact for both methods: W_1 x + b_1 ± ε‖w_j‖_* (the dual norm of each row:
    ℓ2 for L2, ℓ1 for L∞). Then
    "ibp" (interval bound propagation, Gowal et al. 2018): centre W_k m + b_k and radius
        |W_k| r of the box [relu(l), relu(u)] = m ± r of the previous layer;
    "crown" (Zhang et al. 2018): back-substitution of W_k through linear ReLU relaxations
        down to the input (relu(z) ≤ u(z − l)/(u − l) above, relu(z) ≥ αz below with
        α = 1[u > −l], for unstable neurons), then the dual norm over the ball; every
        interval is intersected with the IBP interval propagated from the layer below, so
        CROWN's intervals lie inside IBP's by construction."""
    norm = check_norm(norm)
    x64 = x.detach().to(torch.float64).flatten(1)
    eps = check_nonnegative(eps, "eps", dtype=torch.float64, device=x.device).reshape(-1, 1)  # (1|n, 1)
    if method not in ("ibp", "crown"):
        raise ValueError(f"method must be 'ibp' or 'crown', got {method!r}")
    w, b = layers[0]
    if x64.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x64.shape[1]} features but the model's first layer takes {w.shape[1]}")
    centre, radius = x64 @ w.T + b, eps * _dual_rows(w, norm)
    bounds = [(centre - radius, centre + radius)]
    for k in range(1, len(layers)):
        w, b = layers[k]
        low, high = torch.relu(bounds[-1][0]), torch.relu(bounds[-1][1])
        centre, radius = (low + high) / 2 @ w.T + b, (high - low) / 2 @ w.abs().T
        lower, upper = centre - radius, centre + radius
        if method == "crown":
            lower = torch.maximum(lower, -_crown_upper(layers, bounds, k, -1.0, x64, eps, norm))
            upper = torch.minimum(upper, _crown_upper(layers, bounds, k, 1.0, x64, eps, norm))
        bounds.append((lower, upper))
    return bounds


def _crown_upper(layers, bounds, k: int, sign: float, x, eps, norm) -> torch.Tensor:
    """Upper bound on sign·(W_k a_{k-1} + b_k) over the ball by CROWN back-substitution: (n, o)."""
    w, b = layers[k]
    lam = (sign * w).expand(x.shape[0], *w.shape)  # (n, o, width_{k-1}) coefficients on a_{k-1}
    const = (sign * b).expand(x.shape[0], -1)
    for j in range(k - 1, -1, -1):  # through relu(z_j), then z_j = W_j a_{j-1} + b_j
        low, high = bounds[j]
        unstable = (low < 0) & (high > 0)
        width = torch.where(unstable, high - low, torch.ones_like(high))
        up_slope = torch.where(unstable, high / width, (low >= 0).to(high.dtype))
        up_shift = torch.where(unstable, -low * high / width, torch.zeros_like(high))
        down_slope = torch.where(unstable, (high > -low).to(high.dtype), (low >= 0).to(high.dtype))
        pos, neg = lam.clamp(min=0), lam.clamp(max=0)
        const = const + (pos * up_shift[:, None, :]).sum(dim=-1)
        lam = pos * up_slope[:, None, :] + neg * down_slope[:, None, :]  # coefficients on z_j
        const = const + lam @ layers[j][1]
        lam = lam @ layers[j][0]
    return (lam @ x[:, :, None])[..., 0] + const + eps * _dual_rows(lam, norm)


def _shell_directions(dim: int, points: int, norm: str, dtype, device) -> torch.Tensor:
    """Points of the unit sphere of the norm: (m, dim). d = 1: ±1; d = 2: the circle
    (L2) or the perimeter of the square [−1, 1]² (L∞, corners included)."""
    if dim == 1:
        return torch.tensor([[-1.0], [1.0]], dtype=dtype, device=device)
    angles = torch.arange(points, dtype=dtype, device=device) * (2 * math.pi / points)
    circle = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (m, 2)
    if norm == "l2":
        return circle
    square = circle / circle.abs().amax(dim=1, keepdim=True)  # radial map onto the square
    corners = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=dtype, device=device)
    return torch.cat([square, corners])


def exhaustive_max_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid, norm="l2",
                        shells_per_eps: int = 8, points_per_shell: int = 72,
                        loss: Loss | None = None, chunk: int = 200_000,
                        clip: tuple[float, float] | None = None):
    """Dense search of the ε-ball for every ε of a grid at once (inputs of dimension d ≤ 2).

    The ball of radius ε is the union of the spheres ("shells") of radius ρ ≤ ε, so the loss
    is evaluated on shells ρ ∈ {0} ∪ (radii between consecutive grid values, each ε_k
    included: the boundary is always searched), and max over ρ ≤ ε_k is a running maximum.
    Cost: n × (1 + k·shells_per_eps) × points_per_shell forward evaluations, in chunks.

    Args:
        x: (n, d), d ∈ {1, 2}; y: (n,). eps_grid: (k,) non-decreasing radii ≥ 0 (or a number).
        shells_per_eps: shells between consecutive grid values. points_per_shell: points on
            each circle (L2) or square perimeter (L∞, +4 corners); d = 1 uses ±ρ.
        clip: (low, high) valid input range: points x + δ outside it are not searched.
    Returns:
        (best_loss (k, n), best_delta (k, n, d)). The max over a finite grid is a lower bound
        on the true maximum that is tight up to the grid's resolution.
    """
    norm = check_norm(norm)
    if x.dim() != 2 or x.shape[1] > 2:
        raise ValueError(f"exhaustive search needs inputs of shape (n, d) with d ≤ 2, got {tuple(x.shape)}")
    check_batch(model, x, y)
    clip = check_clip(clip)
    eps_grid = check_nonnegative(eps_grid, "eps_grid", dtype=x.dtype, device=x.device, empty_ok=False).reshape(-1)
    if (eps_grid[1:] < eps_grid[:-1]).any():
        raise ValueError("eps_grid must be non-decreasing")
    shells_per_eps = check_positive_int(shells_per_eps, "shells_per_eps")
    points_per_shell = check_positive_int(points_per_shell, "points_per_shell", minimum=3)
    n, d = x.shape
    lows = torch.cat([eps_grid.new_zeros(1), eps_grid[:-1]])
    frac = torch.arange(1, shells_per_eps + 1, dtype=x.dtype, device=x.device) / shells_per_eps
    radii = torch.cat([eps_grid.new_zeros(1), (lows[:, None] + frac * (eps_grid - lows)[:, None]).reshape(-1)])
    grid_index = torch.arange(1, len(eps_grid) + 1, device=x.device) * shells_per_eps  # shell of ε_k
    units = _shell_directions(d, points_per_shell, norm, x.dtype, x.device)  # (m, d)
    offsets = (radii[:, None, None] * units[None]).reshape(-1, d)  # (S·m, d)
    losses = _evaluate_offsets(model, x, y, offsets, loss, chunk, clip)  # (n, S·m)
    per_shell = losses.reshape(n, len(radii), len(units))  # (n, S, m)
    shell_max, shell_arg = per_shell.max(dim=2)  # (n, S)
    running, running_arg = _running_max(shell_max)  # (n, S)
    best_loss = running[:, grid_index].T  # (k, n)
    best_shell = running_arg[:, grid_index]  # (n, k)
    best_point = torch.gather(shell_arg, 1, best_shell)  # (n, k)
    best_delta = offsets.reshape(len(radii), len(units), d)[best_shell, best_point]  # (n, k, d)
    return best_loss, best_delta.transpose(0, 1)


def _running_max(values: torch.Tensor):
    """Running max along dim 1 and the index where it was attained."""
    running, arg = values.clone(), torch.zeros_like(values, dtype=torch.long)
    arg[:, 0] = 0
    for s in range(1, values.shape[1]):
        take = values[:, s] > running[:, s - 1]
        running[:, s] = torch.where(take, values[:, s], running[:, s - 1])
        arg[:, s] = torch.where(take, torch.full_like(arg[:, s], s), arg[:, s - 1])
    return running, arg


def _evaluate_offsets(model, x, y, offsets, loss, chunk, clip=None):
    """l(f(x_i + o_j), y_i) for all i, j: (n, m), evaluated in chunks of ≤ chunk rows;
    −∞ where x_i + o_j leaves the clip box (so the search never picks it)."""
    n, m = x.shape[0], offsets.shape[0]
    rows_per_chunk = max(1, chunk // m)
    out = []
    with torch.no_grad():
        for start in range(0, n, rows_per_chunk):
            xs, ys = x[start:start + rows_per_chunk], y[start:start + rows_per_chunk]
            points = (xs[:, None, :] + offsets[None]).reshape(-1, x.shape[1])  # (b·m, d)
            targets = ys.repeat_interleave(m)
            values = per_sample_loss(model, points, targets, loss)  # (b·m,)
            if clip is not None:
                inside = ((points >= clip[0]) & (points <= clip[1])).all(dim=1)
                values = values.masked_fill(~inside, -float("inf"))
            out.append(values.reshape(len(xs), m))
    return torch.cat(out)


def exhaustive_attack_2d(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                         shells: int = 16, points_per_shell: int = 180,
                         loss: Loss | None = None, clip: tuple[float, float] | None = None,
                         xi=0.0) -> torch.Tensor:
    """The best perturbation found by a dense search of the ε-ball (d ≤ 2), as an attack:
    δ of shape (n, d), following `advexplore.attacks.Attack` (model untouched; no gradients
    needed unless ξ > 0). clip: only points with x + δ in [low, high] are searched. ξ > 0
    shrinks the maximiser like pgd_attack does (the A_{ε,ξ} factor of the clean gradient).

    `shells` concentric spheres of radius ρ ∈ (0, ε] (ρ = ε included) × `points_per_shell`
    points each, plus δ = 0. Use it to see how tight PGD is: loss(x + δ_exhaustive) ≥ PGD's
    up to the grid resolution. Example:
        >>> delta = exhaustive_attack_2d(net, x, y, eps=0.5)   # x of shape (n, 2)
    """
    check_batch(model, x, y)
    eps_t = check_nonnegative(eps, "eps", dtype=x.dtype, device=x.device)
    if eps_t.dim() != 0:
        raise ValueError("eps must be a single number here (use exhaustive_max_loss for a grid)")
    xi = float(check_nonnegative(xi, "xi"))
    _, delta = exhaustive_max_loss(model, x, y, eps_t.reshape(1), norm, shells, points_per_shell, loss, clip=clip)
    delta = delta[0]  # (n, d)
    if xi > 0:
        delta = clip_perturbation(x, surrogate_factor(input_gradient(model, x, y, loss), xi, norm) * delta, clip)
    return delta.detach()


__all__ = ["METHODS", "certified_max_loss", "exhaustive_attack_2d", "exhaustive_max_loss",
           "interval_max_loss", "lipschitz_upper_bound", "output_bounds", "preactivation_bounds", "squared_loss"]
