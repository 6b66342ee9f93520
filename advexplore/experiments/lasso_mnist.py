"""Paper 002 §3.2, Fig. 4: does the LASSO penalty λ‖θ‖₁ raise the adversarial test accuracy of
adversarially trained two-layer ReLU nets when n is small (the high-dimensional regime)?
Binary 0 vs 1, 1024 hidden units, L2 attack ε = 3 on MNIST (28×28), λ ∈ {0, 1e-3}, several
sample sizes n and repetitions. Used in notebooks/09_lasso_mnist.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from .._validate import check_nonnegative, check_positive_int
from ..classification import adversarial_accuracy, relu_classifier, robust_accuracies, train_classifier
from ..data.tasks import ImageTask, subsample

MNIST_PIXELS = 28 * 28


def scale_eps(eps_mnist: float, pixels: int) -> float:
    """ε for an input with `pixels` entries in [0, 1] matching ε_mnist on 28×28 MNIST:
    ε·√(pixels/784) (an L2 ball scales with the square root of the dimension; on the
    8×8 digits ε = 3 becomes 3·8/28 ≈ 0.857)."""
    return float(check_nonnegative(eps_mnist, "eps_mnist")) * math.sqrt(check_positive_int(pixels, "pixels") / MNIST_PIXELS)


@dataclass
class LassoConfig:
    """Fig. 4 settings. The paper: hidden=1024, eps=3 (MNIST), xi=1e-4, epochs=2000, reps=30,
    lambdas=(0, 1e-3); the defaults here are the CPU-sized digits version."""
    n_grid: tuple = (10, 20, 40, 80)
    lambdas: tuple = (0.0, 1e-3)
    reps: int = 5
    eps: float = 3.0 * math.sqrt(64 / MNIST_PIXELS)
    xi: float = 1e-4
    hidden: int = 1024
    epochs: int = 200
    lr: float = 0.1
    attack_steps: int = 10
    eval_steps: int = 20
    n_test: int = 500
    autoattack: str = "fast"  # AutoAttack beside PGD on the test set: "off", "fast" (APGD-CE), "standard"
    seed: int = 0
    extra: dict = field(default_factory=dict)


def lasso_mnist_experiment(task: ImageTask, config: LassoConfig, progress: bool = True) -> dict:
    """Run the Fig. 4 grid: for every n, repetition and λ, draw n training rows (stratified,
    same rows for every λ within a repetition), adversarially train a fresh two-layer ReLU net
    (same initialisation for every λ), and record standard and robust test accuracy under PGD
    (`eval_steps`) and AutoAttack (`config.autoattack`; robust_accuracies: both UPPER bounds on
    the robust accuracy), the fraction of zero first-layer weights, and per test image whether
    it was right clean, under PGD and under AutoAttack.

    Returns {"config": dict, "n": [...], "lambda": [...], "standard": [[[rep] λ] n],
    "adversarial" (PGD): same nesting, "autoattack": same (None when config.autoattack is "off"),
    "combined" (right under both attacks): same, "train_adversarial" (PGD on the training rows):
    same, "sparsity": same, "clean_correct" / "pgd_correct" / "autoattack_correct": same nesting
    of (n_test,) 0/1 lists}.
    """
    x_test, y_test = task.x_test[:config.n_test], task.y_test[:config.n_test]
    keys = ("standard", "adversarial", "autoattack", "combined", "train_adversarial", "sparsity",
            "clean_correct", "pgd_correct", "autoattack_correct")
    out = {k: [[[] for _ in config.lambdas] for _ in config.n_grid] for k in keys}
    runs = [(i, r) for i in range(len(config.n_grid)) for r in range(config.reps)]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(runs) * len(config.lambdas), desc="Fig. 4 runs", unit="net")
    for i, rep in runs:
        n = config.n_grid[i]
        g = torch.Generator().manual_seed(config.seed * 100003 + rep * 1009 + n)
        x, y = subsample(task.x_train, task.y_train, n, g)
        init_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        for j, lam in enumerate(config.lambdas):
            net = relu_classifier(x.shape[1:], task.num_classes, config.hidden,
                                  generator=torch.Generator().manual_seed(init_seed))
            attack_gen = torch.Generator().manual_seed(init_seed + 1)
            train_classifier(net, x, y, eps=config.eps, xi=config.xi, epochs=config.epochs, lr=config.lr,
                             l1=lam, attack_steps=config.attack_steps, generator=attack_gen)
            test = robust_accuracies(net, x_test, y_test, config.eps, steps=config.eval_steps,
                                     autoattack=config.autoattack, generator=attack_gen)
            for key, name in (("standard", "standard_accuracy"), ("adversarial", "pgd_accuracy"),
                              ("autoattack", "autoattack_accuracy"), ("combined", "combined_accuracy"),
                              ("clean_correct", "clean"), ("pgd_correct", "pgd"), ("autoattack_correct", "autoattack")):
                value = test[name]
                out[key][i][j].append(value.int().tolist() if isinstance(value, torch.Tensor) else value)
            out["train_adversarial"][i][j].append(adversarial_accuracy(net, x, y, config.eps,
                                                                       steps=config.eval_steps))
            out["sparsity"][i][j].append((net[1].weight == 0).float().mean().item())
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    if config.autoattack == "off":
        out.update(autoattack=None, combined=None, autoattack_correct=None)
    return {"config": asdict(config), "n": list(config.n_grid), "lambda": list(config.lambdas), **out}


def median_by_lambda(results: dict, key: str = "adversarial") -> dict:
    """{λ: [median over repetitions for each n]} of results[key]."""
    return {lam: [float(torch.tensor(results[key][i][j]).median()) for i in range(len(results["n"]))]
            for j, lam in enumerate(results["lambda"])}


def paired_gain(results: dict, key: str = "adversarial") -> dict:
    """{λ: mean over n and repetitions of acc[n][λ][r] − acc[n][λ₀][r]}, λ₀ = the first λ (0):
    the average gain from the penalty on the SAME training sample and initialisation (pairs
    share both), e.g. in adversarial test accuracy (Fig. 4 of paper 002)."""
    acc = torch.tensor(results[key], dtype=torch.float64)  # (n, λ, rep)
    return {lam: float((acc[:, j] - acc[:, 0]).mean()) for j, lam in enumerate(results["lambda"])}


def attack_comparison(results: dict) -> list[dict]:
    """One row per n and λ: the median over repetitions of the standard, PGD, AutoAttack and
    combined (right under both attacks) test accuracy, and in how many repetitions AutoAttack's
    upper bound was below PGD's (tighter), equal, or above. [] when AutoAttack was off."""
    if results.get("autoattack") is None:
        return []
    rows = []
    for i, n in enumerate(results["n"]):
        for j, lam in enumerate(results["lambda"]):
            pgd, aa = results["adversarial"][i][j], results["autoattack"][i][j]
            median = {k: float(torch.tensor(results[k][i][j]).median())
                      for k in ("standard", "adversarial", "autoattack", "combined")}
            rows.append(dict(n=n, lam=lam, standard=median["standard"], pgd=median["adversarial"],
                             autoattack=median["autoattack"], combined=median["combined"],
                             autoattack_tighter=sum(a < p for a, p in zip(aa, pgd)),
                             equal=sum(a == p for a, p in zip(aa, pgd)),
                             pgd_tighter=sum(a > p for a, p in zip(aa, pgd))))
    return rows
