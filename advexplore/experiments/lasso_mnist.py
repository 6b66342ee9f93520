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
from ..classification import accuracy, adversarial_accuracy, relu_classifier, train_classifier
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
    seed: int = 0
    extra: dict = field(default_factory=dict)


def lasso_mnist_experiment(task: ImageTask, config: LassoConfig, progress: bool = True) -> dict:
    """Run the Fig. 4 grid: for every n, repetition and λ, draw n training rows (stratified,
    same rows for every λ within a repetition), adversarially train a fresh two-layer ReLU net
    (same initialisation for every λ), and record standard/adversarial test accuracy (PGD with
    `eval_steps`, an upper bound on the robust accuracy) and the fraction of zero first-layer weights.

    Returns {"config": dict, "n": [...], "lambda": [...], "standard": [[[rep] λ] n],
    "adversarial": same nesting, "train_adversarial": same, "sparsity": same}.
    """
    x_test, y_test = task.x_test[:config.n_test], task.y_test[:config.n_test]
    keys = ("standard", "adversarial", "train_adversarial", "sparsity")
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
            out["standard"][i][j].append(accuracy(net, x_test, y_test))
            out["adversarial"][i][j].append(adversarial_accuracy(net, x_test, y_test, config.eps,
                                                                 steps=config.eval_steps, generator=attack_gen))
            out["train_adversarial"][i][j].append(adversarial_accuracy(net, x, y, config.eps,
                                                                       steps=config.eval_steps))
            out["sparsity"][i][j].append((net[1].weight == 0).float().mean().item())
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
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
