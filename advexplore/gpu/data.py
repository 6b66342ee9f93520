"""CIFAR-10 for the trainer: read once with advexplore.data.load_cifar10, kept on the device as
uint8 (150 MB for the 50 000 training images, so no loader and no host copies per step), and a
tiny learnable CIFAR-format data set for smoke runs and tests."""
from __future__ import annotations

from pathlib import Path

import torch

from ..data.cifar import load_cifar10, save_cifar10_batches


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round_().to(torch.uint8)


def load_split(data_dir, split: str, subset: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(x uint8 (n, 3, 32, 32), y int64 (n,)) on `device`; subset > 0 keeps the first `subset`."""
    x, y = load_cifar10(data_dir, split)
    if subset:
        x, y = x[:subset], y[:subset]
    return to_uint8(x).to(device), y.to(device)


def write_smoke_cifar(root, n_train: int = 64, n_test: int = 32, seed: int = 0, noise: float = 0.15) -> Path:
    """Write a tiny CIFAR-format data set (data_batch_1 + test_batch, real pickle format) to
    root and return root. Class c's images are a smooth random colour pattern m_c plus
    Gaussian pixel noise of std `noise`, clipped to [0, 1], so a tiny WRN learns it in a few
    epochs. Used by the notebooks' smoke mode and the tests; never a download."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(10, 3, 4, 4, generator=g)
    means = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)

    def draw(n):
        y = torch.arange(n) % 10
        y = y[torch.randperm(n, generator=g)]
        x = (means[y] + noise * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 1)
        return x, y

    root = Path(root)
    save_cifar10_batches(root, *draw(n_train), split="train")
    save_cifar10_batches(root, *draw(n_test), split="test")
    return root
