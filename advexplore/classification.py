"""Classification pieces shared by the real-data notebooks (09, 10): a per-sample
cross-entropy for the attacks/training contract, a ReLU classifier on images, accuracies
and a thin wrapper of Algorithm 1 (`adversarial_train`) with PGD as the inner attack."""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_batch, check_nonnegative, check_norm, check_positive_int
from .pgd import pgd_attack
from .training import TrainHistory, adversarial_train

UNIT_BOX = (0.0, 1.0)  # valid pixel range of every image task in advexplore.data


def cross_entropy_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample l(f(x), y) = −log softmax(f(x))_y; logits (n, k), y (n,) int64 -> (n,).
    Pass as `loss=` to surrogate_attack, pgd_attack and adversarial_train."""
    if logits.dim() != 2 or y.dim() != 1 or y.dtype != torch.int64:
        raise ValueError(f"cross_entropy_loss needs logits (n, k) and int64 labels (n,), got "
                         f"{tuple(logits.shape)} and {tuple(y.shape)} {y.dtype}")
    return F.cross_entropy(logits, y, reduction="none")


def relu_classifier(in_shape, classes: int, hidden: int = 1024, depth: int = 1,
                    generator: torch.Generator | None = None) -> nn.Sequential:
    """Flatten → (Linear → ReLU) × depth → Linear to `classes` logits. depth = 1, hidden = 1024
    is the two-layer network of paper 002 Fig. 4. Initialised with PyTorch's default rule,
    drawn from `generator` when given (reproducible repetitions)."""
    d = int(torch.Size(in_shape).numel())
    hidden = check_positive_int(hidden, "hidden")
    depth = check_positive_int(depth, "depth")
    classes = check_positive_int(classes, "classes", minimum=2)
    sizes = [d] + [hidden] * depth
    layers: list[nn.Module] = [nn.Flatten()]
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(i, o), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], classes))
    net = nn.Sequential(*layers)
    if generator is not None:
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    bound = 1.0 / m.in_features ** 0.5  # PyTorch's default U(−1/√fan_in, 1/√fan_in)
                    m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
                    m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)
    return net


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(n,) predicted labels argmax f(x)."""
    return model(x).argmax(dim=1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Standard accuracy (1/n) Σ 1[argmax f(x_i) = y_i]."""
    check_batch(model, x, y)
    return (predict(model, x) == y).float().mean().item()


def adversarial_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                         steps: int = 20, restarts: int = 1, clip=UNIT_BOX,
                         generator: torch.Generator | None = None) -> float:
    """(1/n) Σ 1[argmax f(x_i + δ_i) = y_i], δ = PGD on the cross-entropy within the ε-ball
    (inputs kept in `clip`). A sample counts only if it is right both clean and attacked (δ = 0
    is in the ball), so the value never exceeds the standard accuracy; an attack can miss
    errors, so it is an UPPER bound on the true robust accuracy."""
    check_batch(model, x, y)
    if float(check_nonnegative(eps, "eps")) == 0:
        return accuracy(model, x, y)
    delta = pgd_attack(model, x, y, eps, norm=norm, steps=steps, restarts=restarts,
                       loss=cross_entropy_loss, clip=clip, generator=generator, random_start=False)
    correct = (predict(model, x + delta) == y) & (predict(model, x) == y)
    return correct.float().mean().item()


def _no_attack(model, x, y, eps, **_) -> torch.Tensor:
    return torch.zeros_like(x)


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps=0.0, norm="l2",
                     epochs: int = 100, lr: float = 0.1, l1: float = 0.0, xi: float = 0.0,
                     attack_steps: int = 10, batch_size: int | None = None, clip=UNIT_BOX,
                     generator: torch.Generator | None = None, progress: bool = False) -> TrainHistory:
    """Algorithm 1 of paper 002 on a classifier: cross-entropy, PGD(`attack_steps`) inner attack
    in the ε-ball (ε = 0: standard training), LASSO λ = l1 by the proximal step, plain SGD.
    `epochs` passes over the data: steps = epochs·⌈n / batch_size⌉ (full batch when None)."""
    check_norm(norm)
    epochs = check_positive_int(epochs, "epochs")
    n = x.shape[0]
    per_epoch = 1 if batch_size is None else -(-n // batch_size)
    attack = partial(pgd_attack, steps=check_positive_int(attack_steps, "attack_steps"), generator=generator)
    if float(check_nonnegative(eps, "eps")) == 0:
        attack = _no_attack  # standard training: skip PGD's passes
    return adversarial_train(model, x, y, eps=eps, xi=xi, norm=norm, lr=lr, steps=epochs * per_epoch,
                             l1=l1, loss=cross_entropy_loss, attack=attack, clip=clip,
                             batch_size=batch_size, generator=generator, progress=progress)
