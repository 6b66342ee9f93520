"""The exact inner maximum max_{‖δ‖≤ε} (f(x+δ) − y)² of small ReLU nets, and the LP relaxation
of its MILP (a certified upper bound). Since the loss is (f − y)², the maximum is
max((max f − y)², (min f − y)²) over the ball, so f is maximised and minimised per sample.

  - "milp" (L∞, any d): max ±f over the box as a mixed-integer linear program with big-M
    constraints (Tjeng, Xiao & Tedrake 2019): for a ReLU a = relu(z) with z ∈ [l, u], l < 0 < u,
        a ≥ 0, a ≥ z, a ≤ z − l(1 − t), a ≤ u·t, t ∈ {0, 1};
    stable neurons (u ≤ 0: a = 0; l ≥ 0: a = z) need no binary. [l, u] are CROWN ∩ IBP
    intervals (advexplore.bounds.preactivation_bounds). Solved by scipy.optimize.milp (HiGHS).
  - "regions" (d ≤ 2, L2 or L∞): the square around the ball is cut, layer by layer, along the
    zero line of every neuron into convex polygons on which f is affine (the line arrangement
    of the ReLUs for one hidden layer, its refinement for deeper nets). The maximum of an affine
    g·z + c over polygon ∩ ball lies at an extreme point: a polygon vertex inside the ball, an
    edge's intersection with the circle, or the tangent point x ± ε g/‖g‖. The net itself is
    evaluated at all of these (each inside the ball), so the value returned is attained.
    Pieces whose interval bound on the loss cannot beat the best boundary point are dropped
    early (branch and bound; models.piecewise_linear.extreme_points_2d).
The LP relaxation (t ∈ [0, 1], i.e. the triangle relaxation) is ≤ CROWN ≤ IBP by construction.
For L2 it is refined by outer tangent cuts of the ball (Kelley's cutting planes); every cut
polytope contains the ball, so every iterate is a certified bound.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from scipy.optimize import Bounds, LinearConstraint, milp
from torch import nn

from ._validate import check_nonnegative, check_norm, check_positive_int
from ._validate import check_batch
from .bounds import preactivation_bounds
from .models.piecewise_linear import affine_layers, extreme_points_2d, forward

MAX_UNSTABLE = 60  # default refusal threshold of the MILP (unstable ReLUs per sample; ~1 s at 40)
MAX_REGIONS = 200_000  # default refusal threshold of the region enumeration (pieces per sample)
ALTERNATIVES = ("pgd_attack (a lower bound), certified_max_loss(method='crown'|'ibp') or "
                "advexplore.exact.lp_max_loss (upper bounds)")


def _program(layers, intervals, z_low, z_high, integral: bool):
    """The MILP (or its LP relaxation) in the variables v = (z, a_1, t_1, …, a_L, t_L):
    returns (A, row_low, row_high, var_low, var_high, integrality, slice of a_L)."""
    d = z_low.size
    plan, n_vars, prev = [], d, slice(0, d)
    for (w, b), (low, high) in zip(layers[:-1], intervals):
        active, unstable = np.flatnonzero(low >= 0), np.flatnonzero((low < 0) & (high > 0))
        a, t = n_vars, n_vars + len(b)
        plan.append((w, b, low, high, active, unstable, prev, a, t))
        n_vars, prev = t + len(unstable), slice(a, a + len(b))
    rows = sum(len(p[4]) + 3 * len(p[5]) for p in plan)
    A, lo, hi = np.zeros((rows, n_vars)), np.full(rows, -np.inf), np.full(rows, np.inf)
    var_lo, var_hi, integ = [z_low], [z_high], [np.zeros(d)]
    r = 0
    for w, b, low, high, active, unstable, p, a, t in plan:
        var_lo += [np.maximum(low, 0), np.zeros(len(unstable))]
        var_hi += [np.maximum(high, 0), np.ones(len(unstable))]
        integ += [np.zeros(len(b)), np.full(len(unstable), 1.0 if integral else 0.0)]
        for j in active:  # a_j = w_j·a_prev + b_j
            A[r, a + j], A[r, p] = 1.0, -w[j]
            lo[r] = hi[r] = b[j]
            r += 1
        for k, j in enumerate(unstable):
            A[r:r + 3, a + j] = 1.0
            A[r:r + 2, p] = -w[j]
            lo[r] = b[j]  # a ≥ z
            A[r + 1, t + k], hi[r + 1] = -low[j], b[j] - low[j]  # a ≤ z − l(1 − t)
            A[r + 2, t + k], hi[r + 2] = -high[j], 0.0  # a ≤ u·t
            r += 3
    return A, lo, hi, np.concatenate(var_lo), np.concatenate(var_hi), np.concatenate(integ), prev


def _solve(program, layers, sign: float, time_limit: float, cuts=()):
    """min of −sign·(W_out a_L) over the program (plus cut rows on z): the scipy result and
    the optimum of sign·f implied by it."""
    A, lo, hi, var_lo, var_hi, integ, last = program
    c = np.zeros(A.shape[1])
    c[last] = -sign * layers[-1][0][0]
    constraints = [LinearConstraint(A, lo, hi)] if A.shape[0] else []
    if cuts:
        G = np.zeros((len(cuts), A.shape[1]))
        G[:, :len(cuts[0][0])] = np.stack([g for g, _ in cuts])
        constraints.append(LinearConstraint(G, -np.inf, np.array([h for _, h in cuts])))
    options = {"time_limit": time_limit, "mip_rel_gap": 1e-9} if integ.any() else {"time_limit": time_limit}
    res = milp(c, integrality=integ, bounds=Bounds(var_lo, var_hi), constraints=constraints or None,
               options=options)
    optimum = -res.fun + sign * layers[-1][1][0] if res.x is not None else float("nan")
    return res, optimum


def _gradient(layers, z: np.ndarray) -> np.ndarray:
    """∇f(z) (d,) of the ReLU net (a one-sided derivative on kinks)."""
    jacobian = np.eye(len(z))
    for w, b in layers[:-1]:
        pre = w @ z + b
        jacobian, z = (w @ jacobian) * (pre > 0)[:, None], np.maximum(pre, 0.0)
    return (layers[-1][0] @ jacobian)[0]


def _extreme(program, layers, sign, centre, eps, time_limit, relax, norm):
    """(f, z) at the max (sign = 1) or min (−1) of f: MILP -> f evaluated at the solver's z
    (clipped into the box); LP -> the relaxation's optimum, z None (L2: with tangent cuts,
    the first one where the clean gradient ±∇f(x) meets the sphere, which is where f's
    linearisation peaks, so that few cuts follow)."""
    cuts = []
    if relax and norm == "l2":
        g = _gradient(layers, centre) * sign
        if np.linalg.norm(g) > 0:
            cuts.append((g / np.linalg.norm(g), eps + g @ centre / np.linalg.norm(g)))
    for _ in range(200 if (relax and norm == "l2") else 1):
        res, optimum = _solve(program, layers, sign, time_limit, cuts)
        if res.status != 0:
            raise RuntimeError(f"HiGHS stopped with status {res.status} ({res.message}) after "
                               f"time_limit={time_limit} s; raise time_limit or use {ALTERNATIVES}")
        z = res.x[:centre.size]
        radius = np.linalg.norm(z - centre)
        if not relax or norm == "linf" or radius <= eps + 1e-6 * max(eps, 1.0):  # HiGHS: 1e-7 feasibility
            break
        cuts.append(((z - centre) / radius, eps + (z - centre) @ centre / radius))
    if relax:
        return sign * optimum, None
    z = np.clip(z, centre - eps, centre + eps)
    return forward(layers, z[None])[0], z


def _prepare(model, x, y, eps, norm):
    """(layers as float64 tensors, x (n, d), y (n,), ε (n,) — all float64 — and the norm)."""
    norm = check_norm(norm)
    check_batch(model, x, y, eps)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, d) (flatten images first), got {tuple(x.shape)}")
    eps_n = check_nonnegative(eps, "eps", dtype=torch.float64).cpu().expand(x.shape[0]).clone()
    layers = affine_layers(model)
    return layers, x.detach().to(torch.float64).cpu(), y.detach().to(torch.float64).cpu(), eps_n, norm


def _both_directions(solve, f0: float, low: float, high: float, y: float):
    """max((f_max − y)², (f_min − y)²) from solve(sign) -> (f in that direction, z): the
    direction with the larger certified loss first; the other is skipped when its certified
    bound max((L or U − y)², (f(x) − y)²) cannot beat what the first gave. (best, z, solves)."""
    first = 1.0 if (high - y) ** 2 >= (low - y) ** 2 else -1.0
    best, arg, solves = -np.inf, None, 0
    for sign in (first, -first):
        certified = high if sign > 0 else low
        if solves and max((certified - y) ** 2, (f0 - y) ** 2) <= best:
            continue
        f, z = solve(sign)
        solves += 1
        if (f - y) ** 2 > best:
            best, arg = (f - y) ** 2, z
    return best, arg, solves


def _programs(model, x, y, eps, norm, integral, max_unstable):
    """Per-sample programs with CROWN ∩ IBP intervals, after refusing samples whose number of
    unstable ReLUs exceeds max_unstable. Yields (i, program, layers, x_i, y_i, ε_i, f(x_i), L, U)."""
    layers_t, x64, y64, eps_n, norm = _prepare(model, x, y, eps, norm)
    if max_unstable is not None:
        max_unstable = check_positive_int(max_unstable, "max_unstable", minimum=0)
    bounds = preactivation_bounds(layers_t, x64, eps_n, norm, "crown")
    unstable = sum(((lo < 0) & (hi > 0)).sum(dim=1) for lo, hi in bounds[:-1]) if len(bounds) > 1 \
        else torch.zeros(len(x64), dtype=torch.long)
    if max_unstable is not None and unstable.max() > max_unstable:
        i = int(unstable.argmax())
        raise ValueError(f"sample {i} has {int(unstable[i])} unstable ReLUs at eps={eps_n[i].item():g} "
                         f"(max_unstable={max_unstable}): the MILP may take exponential time. Use "
                         f"method='regions' (d ≤ 2), a smaller net or eps, raise max_unstable, or use "
                         f"{ALTERNATIVES}")
    layers = [(w.numpy(), b.numpy()) for w, b in layers_t]
    f0 = forward(layers, x64.numpy())
    for i in range(len(x64)):
        centre, e = x64[i].numpy(), eps_n[i].item()
        intervals = [(lo[i].numpy(), hi[i].numpy()) for lo, hi in bounds[:-1]]
        program = _program(layers, intervals, centre - e, centre + e, integral)
        yield (i, program, layers, centre, y64[i].item(), e, f0[i], bounds[-1][0][i, 0].item(),
               bounds[-1][1][i, 0].item(), int(unstable[i]))


def exact_max_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", *,
                   method: str | None = None, max_unstable: int | None = MAX_UNSTABLE,
                   max_regions: int = MAX_REGIONS, time_limit: float = 60.0, return_info: bool = False):
    """max_{‖δ‖≤ε} (f(x_i + δ) − y_i)² per sample, exactly (module docstring), for scalar-output
    ReLU nets: MLP(activation="relu"), TwoLayerNet(activation="relu"), nn.Sequential of
    Linear/ReLU (models.piecewise_linear).

    Args:
        x: (n, d); y: (n,); eps: a number or (n,) per-sample radii; norm: "l2" | "linf".
        method: "milp" (L∞ any d; also L2 for d = 1, where the ball is the box) or "regions"
            (d ≤ 2, L2 or L∞). Default: "regions" for d ≤ 2 (much faster there), else "milp".
        max_unstable: refuse (ValueError) a sample with more unstable ReLUs than this (MILP
            time grows exponentially with them); None: no limit.
        max_regions: refuse when the ball cuts the net into more linear pieces than this.
        time_limit: seconds per MILP solve; a solve that stops short raises RuntimeError.
        return_info: also return {"seconds": (n,), "solves": (n,) MILPs solved (1 or 2; the
            second direction is skipped when its certified bound cannot win), "unstable": (n,)
            binaries (MILP) or "pieces": (n,) linear pieces searched (regions), "delta": (n, d)
            a maximiser, "method": str}.
    Returns: (n,) tensor in x's dtype [, info]. The value is the loss at `delta` (attained);
        the MILP stops within HiGHS's optimality gap of max f (1e-9 relative, 1e-6 absolute).
    Raises ValueError for L2 with d > 2 (the ball is not polyhedral), naming the alternatives.
    Example:
        >>> exact_max_loss(MLP(2, 16, 2), x, y, 0.3, norm="l2")
    """
    norm, d = check_norm(norm), x.shape[-1]
    if method is None:
        method = "regions" if d <= 2 else "milp"
    if method not in ("milp", "regions"):
        raise ValueError(f"method must be 'milp' or 'regions', got {method!r}")
    if norm == "l2" and d > 2:
        raise ValueError(f"the exact L2 maximum is available for inputs of dimension d ≤ 2 only "
                         f"(got d={d}); use {ALTERNATIVES}, or norm='linf' (exact MILP in any d)")
    if method == "milp" and norm == "l2" and d > 1:
        raise ValueError("method='milp' is exact for norm='linf' (and d = 1); use method='regions' for L2")
    if method == "regions" and d > 2:
        raise ValueError(f"method='regions' needs d ≤ 2, got d={d}; use method='milp' for L∞")
    if method == "regions":
        max_regions = check_positive_int(max_regions, "max_regions")
        losses, deltas, seconds, pieces = _regions_max_loss(model, x, y, eps, norm, max_regions)
        info = {"seconds": seconds, "solves": torch.zeros(len(x), dtype=torch.long), "pieces": pieces}
    else:
        rows = []
        for i, program, layers, centre, yi, e, f0, low, high, unstable in _programs(
                model, x, y, eps, norm, True, max_unstable):
            start = time.perf_counter()
            best, z, solves = _both_directions(
                lambda sign: _extreme(program, layers, sign, centre, e, time_limit, False, "linf"),
                f0, low, high, yi)
            rows.append((best, z - centre, time.perf_counter() - start, solves, unstable))
        losses = torch.tensor([r[0] for r in rows], dtype=torch.float64)
        deltas = torch.tensor(np.stack([r[1] for r in rows]))
        info = {"seconds": torch.tensor([r[2] for r in rows]), "solves": torch.tensor([r[3] for r in rows]),
                "unstable": torch.tensor([r[4] for r in rows])}
    info.update(delta=deltas.to(x.dtype), method=method)
    losses = losses.to(x.dtype)
    return (losses, info) if return_info else losses


def _regions_max_loss(model, x, y, eps, norm, max_regions):
    """Per sample: the max of (f − y)² over the region candidates (d ≤ 2; d = 1 is embedded in
    the plane with a zero weight column, which leaves the maximum unchanged)."""
    layers_t, x64, y64, eps_n, norm = _prepare(model, x, y, eps, norm)
    layers = [(w.numpy(), b.numpy()) for w, b in layers_t]
    d = x64.shape[1]
    if d == 1:
        layers[0] = (np.concatenate([layers[0][0], np.zeros_like(layers[0][0])], axis=1), layers[0][1])
    losses, deltas, seconds, pieces = [], [], [], []
    for i in range(len(x64)):
        start = time.perf_counter()
        centre = np.concatenate([x64[i].numpy(), np.zeros(2 - d)])
        points, kept = extreme_points_2d(layers, centre, eps_n[i].item(), norm, y64[i].item(), max_regions)
        values = (forward(layers, points) - y64[i].item()) ** 2
        best = int(values.argmax())
        losses.append(values[best])
        deltas.append((points[best] - centre)[:d])
        seconds.append(time.perf_counter() - start)
        pieces.append(kept)
    return (torch.tensor(losses), torch.tensor(np.stack(deltas)), torch.tensor(seconds),
            torch.tensor(pieces))


def lp_max_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", *,
                time_limit: float = 60.0, return_info: bool = False):
    """Certified UPPER bound on max_{‖δ‖≤ε} (f(x_i + δ) − y_i)² from the LP relaxation of the
    MILP (binaries t ∈ [0, 1]: the triangle relaxation of every unstable ReLU, over CROWN ∩ IBP
    intervals), solved per sample by HiGHS for max f and min f: max((U − y)², (L − y)²).

    L∞: the box exactly. L2 (any d): the box, refined by tangent cuts of the ball at the LP's
    optimum until it lies in the ball (to 1e-6, at most 200 cuts); each polytope holds
    the ball, so the bound stays certified even if the cuts stop early. By construction
    LP ≤ CROWN ≤ IBP (advexplore.bounds.certified_max_loss): the LP optimum is capped by
    CROWN's interval (both certified), which only matters within the solver's tolerance.
    Args and return as in exact_max_loss (info: "seconds", "solves")."""
    rows = []
    for i, program, layers, centre, yi, e, f0, low, high, _ in _programs(
            model, x, y, eps, norm, False, None):
        start = time.perf_counter()
        def solve(sign, program=program, centre=centre, e=e, low=low, high=high):
            f, _ = _extreme(program, layers, sign, centre, e, time_limit, True, check_norm(norm))
            return (min(f, high) if sign > 0 else max(f, low)), None  # CROWN caps solver tolerance
        best, _, solves = _both_directions(solve, f0, low, high, yi)
        rows.append((best, time.perf_counter() - start, solves))
    bound = torch.tensor([r[0] for r in rows], dtype=torch.float64).to(x.dtype)
    info = {"seconds": torch.tensor([r[1] for r in rows]), "solves": torch.tensor([r[2] for r in rows])}
    return (bound, info) if return_info else bound


__all__ = ["MAX_REGIONS", "MAX_UNSTABLE", "exact_max_loss", "lp_max_loss"]
