"""The inner maximum max_{‖δ‖≤ε} (f(x_i + δ) − y_i)² of notebook 06's network, bracketed: a LOWER
bound by attack (PGD), the exact value where it is computable (ReLU nets; L∞ any d, L2 d ≤ 2:
advexplore.exact.exact_max_loss) and certified UPPER bounds (advexplore.exact.lp_max_loss, CROWN,
IBP and the weight-norm Lipschitz bound of advexplore.bounds.certified_max_loss). Ordering by
construction: PGD ≤ exact ≤ LP ≤ CROWN ≤ IBP and exact ≤ weight norm (docs/theory.md §8).

`bracket_max_loss` brackets one ε; `bracket_curves` runs it over a few ε on a subset of the data
(exact region enumeration costs seconds per ε on 40 samples) for the bracket figure
(advexplore.plots.adversarial_gap.bracket_figure). No plotting here.
"""
from __future__ import annotations

import time

import torch
from torch import nn

from .._validate import check_nonnegative, check_norm, check_positive_int
from ..attacks import squared_loss
from ..bounds import certified_max_loss
from ..exact import exact_max_loss, lp_max_loss
from ..pgd import pgd_attack


BRACKET = ("pgd", "exact", "lp", "crown", "ibp", "weight_norm")  # lower bound, exact, upper bounds


def bracket_max_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str = "l2",
                     which=BRACKET, pgd_steps: int = 20, pgd_restarts: int = 3,
                     generator: torch.Generator | None = None) -> dict:
    """The inner maximum max_{‖δ‖≤ε} (f(x_i + δ) − y_i)² bracketed, per sample: PGD (LOWER
    bound), exact (advexplore.exact.exact_max_loss; ReLU nets, L∞ any d, L2 d ≤ 2), and the
    certified UPPER bounds lp (advexplore.exact.lp_max_loss), crown, ibp, weight_norm
    (advexplore.bounds.certified_max_loss). For notebook 06's explorer.

    Returns {"loss": {name: (n,)}, "seconds": {name: wall time}, "ratio": {name: mean loss /
    mean exact loss, i.e. the risk's ratio to the exact adversarial risk}, "skipped": {name:
    why}} ("ratio" empty without the exact value: L2 with d > 2, a net exact_max_loss refuses
    (too many linear pieces or unstable ReLUs, or not a ReLU net), or "exact" not in `which`)."""
    unknown = [name for name in which if name not in BRACKET]
    if unknown:
        raise ValueError(f"which must be among {BRACKET}, got {unknown}")
    norm, eps = check_norm(norm), float(check_nonnegative(eps, "eps"))  # bad input raises here,
    if x.dim() != 2 or y.shape != (x.shape[0],):  # so a ValueError below is a method's refusal
        raise ValueError(f"x must be (n, d) and y (n,), got {tuple(x.shape)} and {tuple(y.shape)}")
    compute = {
        "pgd": lambda: squared_loss(model(x + pgd_attack(model, x, y, eps, norm=norm, steps=pgd_steps,
                                                          restarts=pgd_restarts, generator=generator)), y),
        "exact": lambda: exact_max_loss(model, x, y, eps, norm),
        "lp": lambda: lp_max_loss(model, x, y, eps, norm),
        **{m: (lambda m=m: certified_max_loss(model, x, y, eps, norm, method=m))
           for m in ("crown", "ibp", "weight_norm")},
    }
    out = {"loss": {}, "seconds": {}, "ratio": {}, "skipped": {}}
    for name in which:
        start = time.perf_counter()
        try:
            out["loss"][name] = compute[name]().detach()
        except (ValueError, TypeError) as refusal:  # exact/IBP/CROWN/LP say why they cannot run
            if name in ("pgd", "weight_norm"):
                raise
            out["skipped"][name] = str(refusal)
            continue
        out["seconds"][name] = time.perf_counter() - start
    exact = out["loss"]["exact"].mean().item() if "exact" in out["loss"] else 0.0
    if exact > 0:
        out["ratio"] = {name: value.mean().item() / exact for name, value in out["loss"].items()}
    return out


def bracket_curves(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_values, norm: str = "l2",
                   n_samples: int = 40, which=BRACKET, pgd_steps: int = 20, pgd_restarts: int = 3,
                   seed: int = 0) -> dict:
    """`bracket_max_loss` at each ε of `eps_values` on the first `n_samples` rows of (x, y).

    Returns {"eps": [k floats], "n": samples used, "norm", "risk": {method: [k] mean loss over the
    samples, i.e. that method's estimate of the adversarial risk R_adv(ε) on them}, "ratio":
    {method: [k] risk / exact risk} (only when the exact value was computed at every ε),
    "seconds": {method: [k]}, "skipped": {method: why} (methods refused at some ε, e.g. the exact
    value for L2 with d > 2 or a smooth activation)}. PGD restarts are seeded with `seed`.
    Example: bracket_curves(model, x, y, [0.2, 0.6, 1.0], "l2", n_samples=40)."""
    eps_list = [float(e) for e in check_nonnegative(eps_values, "eps_values", empty_ok=False).reshape(-1)]
    m = min(check_positive_int(n_samples, "n_samples"), x.shape[0])
    out = {"eps": eps_list, "n": m, "norm": check_norm(norm), "risk": {}, "ratio": {}, "seconds": {},
           "skipped": {}}
    per_eps = [bracket_max_loss(model, x[:m], y[:m], eps, norm, which, pgd_steps, pgd_restarts,
                                torch.Generator().manual_seed(seed)) for eps in eps_list]
    for name in which:
        reasons = [b["skipped"][name] for b in per_eps if name in b["skipped"]]
        if reasons:
            out["skipped"][name] = reasons[0]
            continue
        out["risk"][name] = [b["loss"][name].mean().item() for b in per_eps]
        out["seconds"][name] = [b["seconds"][name] for b in per_eps]
        if all(b["ratio"] for b in per_eps):
            out["ratio"][name] = [b["ratio"][name] for b in per_eps]
    return out


ORDER = (("pgd", "exact"), ("exact", "lp"), ("lp", "crown"), ("crown", "ibp"), ("exact", "weight_norm"))


def bracket_violations(bracket: dict, rtol: float = 1e-5) -> list[str]:
    """Where the risks of `bracket_curves` break PGD ≤ exact ≤ LP ≤ CROWN ≤ IBP, exact ≤ weight norm
    by more than rtol (relative; float32 models evaluated in float64 by the exact methods), as
    'pgd > exact at ε = 0.6' strings; [] when the bracket holds (pairs with a method missing are
    not checked)."""
    risk, out = bracket["risk"], []
    for low, high in ORDER:
        if low in risk and high in risk:
            out += [f"{low} > {high} at ε = {e:g}" for e, a, b in zip(bracket["eps"], risk[low], risk[high])
                    if a > b * (1 + rtol)]
    return out


__all__ = ["BRACKET", "ORDER", "bracket_curves", "bracket_max_loss", "bracket_violations"]
