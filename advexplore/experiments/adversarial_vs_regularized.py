"""Computations behind the adversarial-vs-regularised explorer (notebook 06; paper 000).

For one fitted model and a grid of ε it computes, at the cost of a few batched passes:
the standard risk, the PGD adversarial risk (LOWER bound), a grid search of the ε-ball (inputs
of dimension ≤ 2; also a LOWER bound, usually much tighter than a few PGD steps), the two
regularised risks (weight-norm Ω = certified UPPER bound; input-gradient Ω = local
linearisation), their gaps over the standard risk and the regularised risks' gap to the
adversarial risk, R_reg − R_adv (paper 000). ξ only rescales the cached PGD perturbations
(surrogate attack), so a ξ move costs one forward pass. The data and its targets are in
adversarial_vs_regularized_data, the bracket lower bound ≤ exact ≤ upper bounds in
adversarial_vs_regularized_bracket. No plotting here: advexplore.plots.adversarial_vs_regularized
and advexplore.plots.adversarial_gap draw, advexplore.widgets.adversarial_vs_regularized wires sliders.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..attacks import attacked_loss, input_gradient, squared_loss, surrogate_factor
from ..bounds import exhaustive_max_loss
from ..cost import count_flops
from ..models import MLP, linear_model
from ..pgd import pgd_attack
from ..regularized import regularized_risk, regularized_train
from ..training import Callback, TrainHistory, adversarial_train
from .adversarial_vs_regularized_bracket import (BRACKET, bracket_curves, bracket_max_loss,  # noqa: F401
                                                 bracket_violations)
from .adversarial_vs_regularized_data import TARGETS, check_target, explorer_data  # noqa: F401


@dataclass
class ExplorerConfig:
    """Literals of one explorer session (logged with every result)."""
    eps_max: float = 2.0
    n_eps: int = 11            # ε grid linspace(0, eps_max, n_eps); the ε slider moves on it
    norm: str = "l2"
    sigma2: float = 0.01       # noise variance of y = g(x) + e (adversarial_vs_regularized_data)
    fit_steps: int = 300       # Adam steps of the standard fit of the current model
    fit_lr: float = 0.03
    pgd_steps: int = 6
    pgd_restarts: int = 1      # restart 1 starts at δ = 0 (an FGM step), the others at random
    n_exhaustive: int = 500    # samples whose ε-ball is grid-searched (d ≤ 2): all, up to n = 500
    shells_per_eps: int = 2
    points_per_shell: int = 24

    def as_dict(self) -> dict:
        return asdict(self)


def explorer_model(d: int, width: int, depth: int, activation: str = "relu", seed: int = 0) -> nn.Module:
    """MLP with `depth` hidden layers of `width` units; depth 0 is the linear model θᵀx."""
    torch.manual_seed(seed)  # nn.Linear's default initialisation draws from the global RNG
    return linear_model(d) if depth == 0 else MLP(d, width, depth, activation)


def fit_standard(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 80,
                 lr: float = 0.02, callback: Callback | None = None) -> TrainHistory:
    """The explorer's standard fit: full-batch Adam on the squared loss, i.e. regularized_train
    at ε = 0 (same TrainHistory, callback(step, model, loss) and argument checks)."""
    return regularized_train(model, x, y, eps=0.0, lr=lr, steps=steps, optimizer="adam", callback=callback)


def risk_curves(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_grid: torch.Tensor,
                config: ExplorerConfig, generator: torch.Generator | None = None) -> dict:
    """All risks of `model` on (x, y) over the ε grid, each a (k,) tensor, plus the cached
    PGD perturbations `delta` (k, n, d) and clean input gradients `g0` (n, d) for ξ.

    Keys: standard, pgd (LOWER bound), exhaustive (grid search of the ε-ball, d ≤ 2 on the first
    n_exhaustive samples, else None; a LOWER bound too) with pgd_subset (PGD on the same samples),
    weight_norm (certified UPPER bound), input_gradient, the gaps over the standard risk
    adversarial_gap = pgd − standard, weight_norm_gap, input_gradient_gap (R_reg − standard), and
    paper 000's gap between the regularised and the adversarial risk:
      adversarial = mean_i max(PGD_i, grid search_i): the best attack per sample (PGD alone
                    where no grid search was run) — the tightest LOWER bound on R_adv here;
      weight_norm_minus_adversarial, input_gradient_minus_adversarial = R_reg − adversarial;
      weight_norm_relative_gap, input_gradient_relative_gap = (R_reg − adversarial) / adversarial
    (0 where adversarial = 0). As adversarial ≤ R_adv, R_reg − adversarial ≥ R_reg − R_adv.
    REG_GAP_KEYS lists these five.
    """
    k, (n, d) = len(eps_grid), x.shape
    pgd_losses, delta = attacked_loss(  # (k, n), (k, n, d): the whole ε curve in one PGD call
        model, x, y, eps_grid, pgd_attack, norm=config.norm, reduction="none", return_delta=True,
        steps=config.pgd_steps, restarts=config.pgd_restarts, random_start=False, generator=generator)
    with torch.no_grad():
        standard = squared_loss(model(x), y).mean()
    out = {
        "standard": standard.expand(k).clone(),
        "pgd": pgd_losses.mean(dim=1),
        "weight_norm": regularized_risk(model, x, y, eps_grid, "weight_norm", config.norm),
        "input_gradient": regularized_risk(model, x, y, eps_grid, "input_gradient", config.norm),
        "delta": delta,
        "g0": input_gradient(model, x, y),
        "exhaustive": None,
        "pgd_subset": None,
    }
    best = pgd_losses.detach().clone()  # (k, n): the best attack per sample
    if d <= 2:
        m = min(n, config.n_exhaustive)
        exhaustive, _ = exhaustive_max_loss(model, x[:m], y[:m], eps_grid, config.norm,
                                            config.shells_per_eps, config.points_per_shell)
        out["exhaustive"] = exhaustive.mean(dim=1)
        out["pgd_subset"] = pgd_losses[:, :m].mean(dim=1)
        best[:, :m] = torch.maximum(best[:, :m], exhaustive)
    out["adversarial"] = best.mean(dim=1)
    out["adversarial_gap"] = out["pgd"] - out["standard"]
    out["weight_norm_gap"] = out["weight_norm"] - out["standard"]
    out["input_gradient_gap"] = out["input_gradient"] - out["standard"]
    for omega in ("weight_norm", "input_gradient"):
        excess = out[omega] - out["adversarial"]
        out[f"{omega}_minus_adversarial"] = excess
        out[f"{omega}_relative_gap"] = torch.where(out["adversarial"] > 0, excess / out["adversarial"].clamp_min(1e-30),
                                                   torch.zeros_like(excess))
    return out


REG_GAP_KEYS = ("adversarial", "weight_norm_minus_adversarial", "input_gradient_minus_adversarial",
                "weight_norm_relative_gap", "input_gradient_relative_gap")


def fitted_curves(width: int, depth: int, activation: str, n: int, d: int, seed: int, target: str,
                  config: ExplorerConfig, eps_grid: torch.Tensor) -> dict:
    """One explorer setting from scratch: data (`explorer_data` with `target`, σ² = config.sigma2),
    the model (`explorer_model`), its standard fit (`fit_standard`, config.fit_steps Adam steps)
    and `risk_curves` over eps_grid (PGD seeded with `seed`). Returns {model, x, y, curves}."""
    x, y = explorer_data(n, d, seed, config.sigma2, target)
    model = explorer_model(d, width, depth, activation, seed)
    fit_standard(model, x, y, config.fit_steps, config.fit_lr)
    curves = risk_curves(model, x, y, eps_grid, config, torch.Generator().manual_seed(seed))
    return dict(model=model, x=x, y=y, curves=curves)


def relative_gap_by_target(eps_values, config: ExplorerConfig | None = None, targets=tuple(TARGETS),
                           width: int = 64, depth: int = 2, activation: str = "relu", n: int = 200,
                           d: int = 2, seed: int = 0) -> dict:
    """(R_reg − R_adv) / R_adv at each ε of `eps_values` for every target (`fitted_curves` per
    target, same architecture, n, d, seed): {target: {"input_gradient": [k], "weight_norm": [k],
    "adversarial": [k] (the best-attack risk), "standard": float}}, R_adv by the best attack
    (a lower bound, so the relative gap is an upper bound on the true one). Paper 000: its sign
    and size depend on the data, which no (weakly) data-dependent Ω can follow."""
    config = config or ExplorerConfig()
    grid = torch.as_tensor(eps_values, dtype=torch.float32).reshape(-1)
    table = {}
    for target in targets:
        c = fitted_curves(width, depth, activation, n, d, seed, target, config, grid)["curves"]
        table[target] = {"input_gradient": c["input_gradient_relative_gap"].tolist(),
                         "weight_norm": c["weight_norm_relative_gap"].tolist(),
                         "adversarial": c["adversarial"].tolist(), "standard": float(c["standard"][0])}
    return table


def surrogate_curve(model: nn.Module, x: torch.Tensor, y: torch.Tensor, curves: dict, xi: float,
                    norm: str = "l2") -> torch.Tensor:
    """Surrogate adversarial risk R_ξ over the ε grid: the cached PGD δ shrunk by the
    A_{ε,ξ} factor of the clean gradient (paper 002 §2.1). One forward pass; (k,)."""
    delta = curves["delta"]  # (k, n, d)
    shrink = surrogate_factor(curves["g0"], float(xi), norm)  # (n, 1) or (n, d)
    with torch.no_grad():
        attacked = model((x[None] + shrink[None] * delta).reshape(-1, x.shape[1]))
        return squared_loss(attacked, y.repeat(delta.shape[0])).reshape(delta.shape[:2]).mean(dim=1)


def decision_grid(model: nn.Module, x: torch.Tensor, resolution: int = 60, margin: float = 0.5):
    """f on a resolution² grid covering the 2-D data: (u (r,), v (r,), f (r, r)) for heatmaps."""
    lo, hi = x.min(dim=0).values - margin, x.max(dim=0).values + margin
    u = torch.linspace(float(lo[0]), float(hi[0]), resolution)
    v = torch.linspace(float(lo[1]), float(hi[1]), resolution)
    grid = torch.stack(torch.meshgrid(u, v, indexing="xy"), dim=-1).reshape(-1, 2)  # (r², 2)
    with torch.no_grad():
        f = model(grid).reshape(resolution, resolution)  # rows: v, columns: u
    return u, v, f


def _evaluate(model, x_test, y_test, eps, config, generator) -> dict:
    with torch.no_grad():
        standard = squared_loss(model(x_test), y_test).mean().item()
    adversarial = attacked_loss(model, x_test, y_test, eps, pgd_attack, norm=config.norm,
                                steps=max(config.pgd_steps, 10), restarts=2, random_start=False,
                                generator=generator).item()
    return {"test_standard_risk": standard, "test_adversarial_risk": adversarial}


def compare_training(make_model, x, y, x_test, y_test, *, eps: float, xi: float = 0.0,
                     omega: str = "input_gradient", lr: float = 0.05, steps: int = 100,
                     attack_steps: int = 5, config: ExplorerConfig | None = None, seed: int = 0,
                     progress=None) -> dict:
    """Train three copies of `make_model()` from the same initialisation with full-batch GD —
    standard (ε = 0), adversarial (Algorithm 1 with a PGD inner loop, via
    advexplore.training.adversarial_train) and regularised (advexplore.regularized.
    regularized_train with Ω = `omega`) — and report, for each, the cost (forward and
    backward passes counted on the model, wall time, and FLOPs) and the test risks (standard,
    and PGD adversarial = a LOWER bound). For a linear model the regularised objective IS the
    adversarial one, so both runs land on the same θ; for networks they part ways.

    FLOPs (advexplore.cost.count_flops: matrix products, backward and double backward included):
    one step of the same training, from the same initialisation, is run again under the counter
    on a fresh copy, and cost["flops"] = steps × cost["flops_per_step"]. Every step multiplies
    matrices of the same shapes, so this is the run's count exactly; the counter is kept out of
    the timed run because it slows a step several-fold.

    progress: optional callable(fraction_done, label) for a progress bar.
    Returns {"standard"|"adversarial"|"regularized": {"cost": {...}, test risks,
    "test_predictions", "theta" (linear models only)}}; runs["regularized"]
    ["distance_to_adversarial"] = RMS of f_adv − f_reg on the test data (0 for linear models).
    """
    from functools import partial

    config = config or ExplorerConfig()
    template = make_model()
    runs = {}
    attack = partial(pgd_attack, steps=attack_steps, random_start=False)
    plan = [("standard", 0.0), ("adversarial", eps), ("regularized", eps)]
    for i, (name, run_eps) in enumerate(plan):
        if progress is not None:
            progress(i / len(plan), f"training: {name}")
        model = make_model()
        model.load_state_dict(template.state_dict())
        if name != "adversarial":  # standard = regularised training at ε = 0
            train = partial(regularized_train, x=x, y=y, eps=run_eps, omega=omega, norm=config.norm, lr=lr,
                            optimizer="sgd")
        else:
            train = partial(adversarial_train, x=x, y=y, eps=run_eps, xi=xi, norm=config.norm, lr=lr, attack=attack)
        history = train(model, steps=steps)
        probe = make_model()
        probe.load_state_dict(template.state_dict())
        with count_flops() as flops:
            train(probe, steps=1)
        cost = dict(history.cost, flops_per_step=flops.flops, flops=flops.flops * steps)
        result = {"cost": cost, **_evaluate(model, x_test, y_test, eps, config, torch.Generator().manual_seed(seed))}
        with torch.no_grad():
            result["test_predictions"] = model(x_test).detach()
        if isinstance(model, MLP) and model.depth == 0:
            result["theta"] = model.layers[0].weight.detach()[0].clone()
        runs[name] = result
    # where the regulariser lands: RMS distance between the two trained functions on test data
    difference = runs["adversarial"]["test_predictions"] - runs["regularized"]["test_predictions"]
    runs["regularized"]["distance_to_adversarial"] = difference.square().mean().sqrt().item()
    if progress is not None:
        progress(1.0, "done")
    return runs


def linear_mismatch(curves: dict) -> float:
    """max over the ε grid and Ω ∈ {weight_norm, input_gradient} of |R_PGD(ε) − R_reg,Ω(ε)|.
    For a linear model max_{‖z‖≤ε} (θᵀ(x+z) − y)² = (|r| + ε‖θ‖_*)² (paper 002, eq. 5/9 before the
    expectation), so every regularised risk equals the adversarial risk and this is ≈ 0.
    curves: lists keyed as AdversarialExplorer.curves() (pgd, weight_norm, input_gradient)."""
    return max(max(abs(a - b) for a, b in zip(curves["pgd"], curves[key])) for key in ("weight_norm", "input_gradient"))


def input_gradient_gap(curves: dict) -> list[float]:
    """|R_reg(ε) − R_PGD(ε)| per ε of the grid, R_reg with the weakly data-dependent Ω = ‖∇ₓf(x)‖_*
    (the local linearisation): 0 for a linear model, growing with ε for networks (paper 000)."""
    return [abs(r - a) for r, a in zip(curves["input_gradient"], curves["pgd"])]


def pgd_excess_over_exhaustive(curves: dict) -> float | None:
    """max over ε of R_PGD − R_exhaustive on the exhaustively searched samples (d ≤ 2; None
    otherwise). PGD is a lower bound on the inner maximum, so this is ≤ 0 up to the search grid."""
    if curves.get("exhaustive") is None:
        return None
    return max(p - e for p, e in zip(curves["pgd_subset"], curves["exhaustive"]))


def training_summary(runs: dict) -> dict:
    """Per run of compare_training: cost (forward + backward passes, FLOPs of the run and per step,
    wall seconds), test standard and adversarial (PGD, a lower bound) risks, and for the
    regularised run the RMS distance of its test predictions to the adversarial run's."""
    return {name: {"passes": r["cost"]["passes"], "flops": r["cost"]["flops"],
                   "flops_per_step": r["cost"]["flops_per_step"], "seconds": r["cost"]["seconds"],
                   "test_standard_risk": r["test_standard_risk"],
                   "test_adversarial_risk": r["test_adversarial_risk"],
                   "distance_to_adversarial": r.get("distance_to_adversarial")} for name, r in runs.items()}


def cost_ratios(runs: dict, a: str = "adversarial", b: str = "regularized") -> dict:
    """How many times run `a` of compare_training costs run `b`, in each measure: {"passes",
    "flops", "seconds": cost_a / cost_b}. A pass count weighs a double backward (the input-gradient
    regulariser's) like a plain backward; FLOPs and wall time do not."""
    return {key: runs[a]["cost"][key] / runs[b]["cost"][key] for key in ("passes", "flops", "seconds")}


def theta_distance(runs: dict, a: str = "adversarial", b: str = "regularized") -> float:
    """‖θ_a − θ_b‖₂ between the parameters of two linear runs of compare_training (0 when the
    regularised objective is the adversarial one and both take the same GD steps)."""
    return float((runs[a]["theta"] - runs[b]["theta"]).norm())
