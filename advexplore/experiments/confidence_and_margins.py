"""What adversarial training does to a classifier (paper 003, Jia, Li & Wen): softmax
confidence, distance to the decision boundary estimated by an attack, layer-wise smoothness of
the feature maps, standard/adversarial accuracy. Paper 003's finding: AT makes the feature maps
of most layers smoother uniformly in all directions, which pulls samples towards the decision
boundary and lowers confidence. Used in notebooks/10_confidence_and_margins.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .._validate import check_batch, check_nonnegative, check_norm, check_positive_int
from ..classification import UNIT_BOX, accuracy, adversarial_accuracy, cross_entropy_loss, predict, robust_accuracies
from ..pgd import pgd_attack


@torch.no_grad()
def softmax_confidence(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(n,) max_k softmax(f(x))_k, the probability the model gives its own prediction."""
    check_batch(model, x, None)
    return torch.softmax(model(x), dim=1).max(dim=1).values


@torch.no_grad()
def logit_margin(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(n,) f_y(x) − max_{k≠y} f_k(x): the margin in the output space (paper 003's sense of
    "near the decision boundary"); negative for misclassified samples."""
    check_batch(model, x, y)
    logits = model(x)  # (n, k)
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    return true - others


def boundary_margin(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps_max: float, norm="l2",
                    bisections: int = 8, steps: int = 20, clip=UNIT_BOX,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Distance to the decision boundary estimated by an attack: per sample the smallest ε at
    which PGD on the cross-entropy flips the prediction, found by bisection on [0, eps_max].

    A flip found at ε proves dist(x, boundary) ≤ ε, so the estimate is an UPPER bound on the
    true margin (PGD may miss a nearer boundary point). Misclassified samples get 0; samples
    not flipped at eps_max get +inf (margin > eps_max as far as PGD can tell). Per-sample radii
    go to pgd_attack in one batched call per bisection step.
    Returns (n,) float tensor, resolution eps_max / 2**bisections.
    """
    check_batch(model, x, y)
    eps_max = float(check_nonnegative(eps_max, "eps_max"))
    bisections = check_positive_int(bisections, "bisections")
    norm = check_norm(norm)
    n = x.shape[0]
    correct = predict(model, x) == y

    def flips(radius: torch.Tensor) -> torch.Tensor:
        delta = pgd_attack(model, x, y, radius, norm=norm, steps=steps, loss=cross_entropy_loss,
                           clip=clip, generator=generator, random_start=False)
        return predict(model, x + delta) != y

    lo = torch.zeros(n, dtype=x.dtype, device=x.device)
    hi = torch.full((n,), eps_max, dtype=x.dtype, device=x.device)
    reachable = flips(hi) & correct
    for _ in range(bisections):
        mid = (lo + hi) / 2
        flipped = flips(mid)
        hi = torch.where(flipped, mid, hi)
        lo = torch.where(flipped, lo, mid)
    margin = torch.where(reachable, hi, torch.full_like(hi, float("inf")))
    return torch.where(correct, margin, torch.zeros_like(margin))


def feature_maps(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The representations h_1(x), …, h_L(x), f(x) of an nn.Sequential: the output after each
    nonlinearity (hidden layers) and the logits, each flattened to (n, width)."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"feature_maps needs an nn.Sequential (e.g. relu_classifier), got {type(model).__name__}")
    maps, h = [], x
    for module in model:
        h = module(h)
        if not isinstance(module, (nn.Linear, nn.Flatten, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            maps.append(h.flatten(1))
    maps.append(h.flatten(1))
    return maps


def layerwise_jacobian_singular_values(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Singular values of the Jacobians ∂h_l/∂x at each sample, for every feature map of
    `feature_maps`: a list over layers of (n, min(width_l, D)) tensors, descending. A model
    that is not an nn.Sequential (a WideResNet) gets one "layer", its logits f(x).

    The largest is the local Lipschitz constant of x ↦ h_l(x) (L2); their spread says whether
    the map is smooth "uniformly in all directions" (paper 003). Computed exactly with
    torch.func.jacrev + vmap (D = C·H·W inputs; fine for digits/MNIST-sized MLPs)."""
    from torch.func import jacrev, vmap

    def maps_of_one(xi: torch.Tensor):
        if not isinstance(model, nn.Sequential):
            return (model(xi.unsqueeze(0)).squeeze(0),)
        return tuple(h.squeeze(0) for h in feature_maps(model, xi.unsqueeze(0)))

    with torch.no_grad():
        jacobians = vmap(jacrev(maps_of_one))(x.detach())  # tuple of (n, width_l, *x.shape[1:])
    return [torch.linalg.svdvals(j.flatten(2)) for j in jacobians]


def layerwise_lipschitz(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per layer l (last = logits), over the samples: `local` mean of ‖∂h_l/∂x‖₂ (local Lipschitz
    constant), `mean_singular` mean singular value, `uniformity` mean of σ_mean/σ_max ∈ (0, 1]
    (1 = equally smooth in all directions). Each (L+1,)."""
    check_batch(model, x, None)
    svs = layerwise_jacobian_singular_values(model, x)
    local = torch.stack([s[:, 0].mean() for s in svs])
    mean_sv = torch.stack([s.mean(dim=1).mean() for s in svs])
    uniform = torch.stack([(s.mean(dim=1) / s[:, 0].clamp_min(1e-12)).mean() for s in svs])
    return {"local": local, "mean_singular": mean_sv, "uniformity": uniform}


def confidence_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm="l2",
                      eps_max: float | None = None, bisections: int = 8, steps: int = 20,
                      lipschitz_samples: int = 64, clip=UNIT_BOX,
                      generator: torch.Generator | None = None) -> dict:
    """Everything notebook 10 shows for one trained net on a test set: `confidence` (n,),
    `logit_margin` (n,), `margin` (n,, see boundary_margin, eps_max default 4ε), `lipschitz` (layerwise_lipschitz on
    the first `lipschitz_samples` rows), `standard_accuracy`, `adversarial_accuracy` (PGD at ε,
    an upper bound on the robust accuracy)."""
    check_batch(model, x, y)
    eps = float(check_nonnegative(eps, "eps"))
    model_was_training = model.training
    model.eval()
    try:
        report = {
            "confidence": softmax_confidence(model, x),
            "logit_margin": logit_margin(model, x, y),
            "margin": boundary_margin(model, x, y, eps_max if eps_max is not None else 4 * eps, norm,
                                      bisections, steps, clip, generator),
            "lipschitz": layerwise_lipschitz(model, x[:lipschitz_samples]),
            "standard_accuracy": accuracy(model, x, y),
            "adversarial_accuracy": adversarial_accuracy(model, x, y, eps, norm, steps, clip=clip,
                                                         generator=generator),
        }
    finally:
        model.train(model_was_training)
    return report


@dataclass
class ConfidenceConfig:
    """Notebook 10 settings: nets trained at every ε of `eps_grid` (0 = standard training),
    all measured with the same margin range [0, eps_max] (default 2·max ε)."""
    eps_grid: tuple = (0.0, 0.25, 0.5, 1.0)
    norm: str = "l2"
    hidden: int = 256
    depth: int = 2
    epochs: int = 30
    lr: float = 0.2
    batch_size: int = 128
    attack_steps: int = 5
    eval_steps: int = 20
    bisections: int = 7
    eps_max: float | None = None
    n_test: int = 400
    lipschitz_samples: int = 64
    autoattack: str = "fast"  # AutoAttack beside PGD: "off", "fast" (APGD-CE), "standard" (full ensemble)
    seed: int = 0


def _measure(net: nn.Module, x, y, eps: float, eps_grid: list, eps_max: float, config: ConfidenceConfig,
             g: torch.Generator) -> tuple[dict, dict]:
    """confidence_report of `net` at its ε, then robust_accuracies at every ε of eps_grid:
    ({report}, {"pgd": [...], "autoattack": [...], "combined": [...], "pgd_correct": [...],
    "autoattack_correct": [...]}), one entry per grid ε (accuracies None when AutoAttack is off)."""
    net.eval()
    report = confidence_report(net, x, y, eps, config.norm, eps_max, config.bisections, config.eval_steps,
                               config.lipschitz_samples, generator=g)
    report = {k: ({n: t.cpu() for n, t in v.items()} if isinstance(v, dict) else v.cpu() if isinstance(v, torch.Tensor)
                  else v) for k, v in report.items()}  # per-sample numbers on the CPU (a WRN may run on CUDA)
    grid = {k: [] for k in ("pgd", "autoattack", "combined", "pgd_correct", "autoattack_correct")}
    for e in eps_grid:
        r = robust_accuracies(net, x, y, e, config.norm, config.eval_steps, config.autoattack, generator=g)
        for key, name in (("pgd", "pgd_accuracy"), ("autoattack", "autoattack_accuracy"),
                          ("combined", "combined_accuracy"), ("pgd_correct", "pgd"), ("autoattack_correct", "autoattack")):
            grid[key].append(r[name].cpu() if isinstance(r[name], torch.Tensor) else r[name])
    return report, grid


def _study(eps_grid, eps_max, measured, config, **extra) -> dict:
    reports, grids = [m[0] for m in measured], [m[1] for m in measured]
    return {"eps": eps_grid, "eps_max": eps_max, "reports": reports, "adversarial_accuracy": [g["pgd"] for g in grids],
            **{f"{key}{suffix}": [g[key] for g in grids] for key, suffix in
               (("autoattack", "_accuracy"), ("combined", "_accuracy"), ("pgd_correct", ""), ("autoattack_correct", ""))},
            "config": asdict(config), **extra}


def _eps_max(config: ConfidenceConfig, eps_grid: list) -> float:
    return config.eps_max if config.eps_max is not None else 2 * max(max(eps_grid), 1e-3)


def confidence_study(task, config: ConfidenceConfig, progress: bool = True) -> dict:
    """Train one net per ε in config.eps_grid (same initialisation and batches), and measure each
    with `confidence_report` on the test set; also the robust accuracy of every net at every ε,
    under PGD and under AutoAttack (config.autoattack; robust_accuracies). Returns {"eps": [...],
    "reports": [report per trained ε], "adversarial_accuracy": [[PGD acc of net i at ε_j]],
    "autoattack_accuracy": same (entries None when off), "combined_accuracy": same (right under
    both attacks), "pgd_correct" / "autoattack_correct": [[(n_test,) bool of net i at ε_j]], "config": dict}."""
    from tqdm.auto import tqdm

    from ..classification import relu_classifier, train_classifier

    eps_grid = [float(e) for e in config.eps_grid]
    eps_max = _eps_max(config, eps_grid)
    x, y = task.x_test[:config.n_test], task.y_test[:config.n_test]
    measured = []
    for eps in tqdm(eps_grid, desc="train + measure", unit="net", disable=not progress):
        net = relu_classifier(task.x_train.shape[1:], task.num_classes, config.hidden, config.depth,
                              generator=torch.Generator().manual_seed(config.seed))
        g = torch.Generator().manual_seed(config.seed + 1)
        train_classifier(net, task.x_train, task.y_train, eps=eps, norm=config.norm, epochs=config.epochs,
                         lr=config.lr, batch_size=min(config.batch_size, len(task.y_train)),
                         attack_steps=config.attack_steps, generator=g)
        measured.append(_measure(net, x, y, eps, eps_grid, eps_max, config, g))
    return _study(eps_grid, eps_max, measured, config)


def checkpoint_study(checkpoints: list[str], data_dir: str, config: ConfidenceConfig, depth: int = 28,
                     widen_factor: int = 10, device: str = "auto", progress: bool = True) -> dict:
    """The study of confidence_study on robust models researchers already have, instead of
    training: each path of `checkpoints` is a RobustBench-layout WideResNet-depth-widen_factor
    state dict (WideResNet.from_robustbench), measured on the first config.n_test images of the
    CIFAR-10 test batch in data_dir. config.eps_grid[k] is the ε net k was trained at (0 for a
    standard-trained one): its label and the radius of its report; every net is also attacked
    at every ε of the grid. The first net is the reference of the figure. device "auto": CUDA
    if there is one (a real WRN on CPU takes long). Same dict as confidence_study, plus
    "checkpoints" and "dataset"."""
    from tqdm.auto import tqdm

    from ..data.cifar import load_cifar10
    from ..gpu.distributed import pick_device
    from ..models.wrn import WideResNet

    eps_grid = [float(e) for e in config.eps_grid]
    if not checkpoints or len(checkpoints) != len(eps_grid) or len(set(eps_grid)) != len(eps_grid):
        raise ValueError(f"eps_grid must give each of the {len(checkpoints)} checkpoint(s) the distinct ε it was "
                         f"trained at, got eps_grid={eps_grid} for {checkpoints}")
    dev = pick_device(device)
    x, y = load_cifar10(data_dir, "test")
    x, y = x[:config.n_test].to(dev), y[:config.n_test].to(dev)
    eps_max = _eps_max(config, eps_grid)
    measured = []
    for path, eps in tqdm(list(zip(checkpoints, eps_grid)), desc="measure", unit="net", disable=not progress):
        net = WideResNet.from_robustbench(path, depth, widen_factor).to(dev)
        g = torch.Generator(device=dev).manual_seed(config.seed + 1)
        measured.append(_measure(net, x, y, eps, eps_grid, eps_max, config, g))
    return _study(eps_grid, eps_max, measured, config, checkpoints=list(checkpoints), dataset="cifar10")


def summary_rows(study: dict) -> list[dict]:
    """One row per net of a confidence_study (trained at ε_k): eps, standard_accuracy,
    adversarial_accuracy (PGD), autoattack_accuracy and combined_accuracy (right under both; None
    entries when AutoAttack is off), each a list over the study's ε grid, mean_confidence = mean_i max_k p_k(x_i),
    median_logit_margin = median_i (f_y − max_{k≠y} f_k)(x_i), median_distance = median_i of the
    attack distance to the boundary (+inf beyond eps_max counts as large), lipschitz and
    uniformity per layer (layerwise_lipschitz). Medians are np.median (the mean of the two middle
    values for an even count)."""
    rows = []
    for k, eps in enumerate(study["eps"]):
        r = study["reports"][k]
        rows.append(dict(eps=eps, standard_accuracy=r["standard_accuracy"],
                         adversarial_accuracy=list(study["adversarial_accuracy"][k]),
                         **{key: list(study[key][k]) if key in study else [None] * len(study["eps"])
                            for key in ("autoattack_accuracy", "combined_accuracy")},  # absent: not measured
                         mean_confidence=float(np.mean(np.asarray(r["confidence"], dtype=float))),
                         median_logit_margin=float(np.median(np.asarray(r["logit_margin"], dtype=float))),
                         median_distance=float(np.median(np.asarray(r["margin"], dtype=float))),
                         lipschitz=r["lipschitz"]["local"].tolist(),
                         uniformity=r["lipschitz"]["uniformity"].tolist()))
    return rows
