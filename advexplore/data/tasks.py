"""Train/test splits of the real image tasks: the bundled digits by default, MNIST when the
user names a directory. One entry point for notebooks 09 and 10."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from .digits import load_digits, relabel, select_classes
from .mnist import load_mnist


@dataclass
class ImageTask:
    """x_*: (N, C, H, W) float32 in [0, 1]; y_*: (N,) int64 labels 0..classes−1."""
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def pixels(self) -> int:
        """D = C·H·W, the input dimension (ε is scaled by √(D/784) from MNIST's ε)."""
        return self.x_train[0].numel()


def load_task(data_dir: str = "", classes: Sequence[int] | None = None, test_fraction: float = 0.5,
              seed: int = 0) -> ImageTask:
    """The image task: digits (8×8, split at random with `seed`, `test_fraction` held out) when
    data_dir is "", CIFAR-10's train/test batches when data_dir holds data_batch_1 (directly or
    in cifar-10-batches-py/; read by advexplore.data.cifar), else MNIST's own train/t10k split
    read from data_dir (see load_mnist)."""
    if data_dir and cifar_root(data_dir) is not None:
        from .cifar import load_cifar10  # the CIFAR-10 pickle-batch reader

        root = cifar_root(data_dir)
        (x_tr, y_tr), (x_te, y_te) = load_cifar10(root, "train"), load_cifar10(root, "test")
        if classes is not None:
            (x_tr, y_tr), (x_te, y_te) = _keep(x_tr, y_tr, classes), _keep(x_te, y_te, classes)
        return ImageTask("cifar10", x_tr, y_tr, x_te, y_te)
    if data_dir:
        x_tr, y_tr = load_mnist(data_dir, "train", classes)
        x_te, y_te = load_mnist(data_dir, "test", classes)
        return ImageTask("mnist", x_tr, y_tr, x_te, y_te)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    x, y = load_digits(classes)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return ImageTask("digits", x[train], y[train], x[test], y[test])


def cifar_root(data_dir: str) -> Path | None:
    """The directory holding CIFAR-10's python batches (data_batch_1 …): data_dir itself or its
    cifar-10-batches-py/; None when neither has them (then data_dir is read as MNIST)."""
    root = Path(data_dir).expanduser()
    for candidate in (root, root / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").is_file():
            return candidate
    return None


def _keep(x: torch.Tensor, y: torch.Tensor, classes: Sequence[int]):
    keep = torch.from_numpy(select_classes(y.numpy(), classes))
    return x[keep], torch.from_numpy(relabel(y[keep].numpy(), classes))


def subsample(x: torch.Tensor, y: torch.Tensor, n: int, generator: torch.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """n rows drawn without replacement, stratified so every class gets ⌊n/k⌋ or ⌈n/k⌉ rows
    (a tiny sample of Fig. 4 must contain both digits)."""
    classes = torch.unique(y)
    if n < len(classes) or n > len(y):
        raise ValueError(f"n must lie in [{len(classes)}, {len(y)}] (one row per class at least), got {n}")
    picks = []
    for i, c in enumerate(classes):
        rows = torch.nonzero(y == c).squeeze(1)
        take = n // len(classes) + (1 if i < n % len(classes) else 0)
        if take > len(rows):
            raise ValueError(f"class {int(c)} has only {len(rows)} rows, cannot draw {take}")
        picks.append(rows[torch.randperm(len(rows), generator=generator)[:take]])
    idx = torch.cat(picks)
    return x[idx], y[idx]
