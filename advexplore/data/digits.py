"""scikit-learn's bundled handwritten digits (8×8, 1797 images, offline): the embedded real
default of advexplore, as a binary task (0 vs 1, like the MNIST 0/1 task of paper 002 Fig. 4)
or as 10 classes. Used in notebooks/09_lasso_mnist and 10_confidence_and_margins.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

DIGITS_SHAPE = (1, 8, 8)  # (C, H, W)
DIGITS_MAX = 16.0  # pixel values of load_digits are integers 0..16


def load_digits(classes: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled digits as images scaled to [0, 1].

    Args:
        classes: digits to keep, e.g. (0, 1) for the binary task of Fig. 4; None keeps all 10.
            Labels are re-numbered 0..k−1 in the given order (so (0, 1) keeps 0 → 0, 1 → 1).
    Returns:
        x: (N, 1, 8, 8) float32 in [0, 1] (pixel / 16); y: (N,) int64 in 0..k−1.
    Example:
        >>> x, y = load_digits((0, 1)); x.shape, int(y.max())
        (torch.Size([360, 1, 8, 8]), 1)
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / DIGITS_MAX  # (1797, 8, 8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    keep = select_classes(labels, classes)
    x = torch.from_numpy(images[keep]).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(relabel(labels[keep], classes))
    return x, y


def select_classes(labels: np.ndarray, classes: Sequence[int] | None) -> np.ndarray:
    """Boolean mask of the rows whose label is in `classes` (all rows for None)."""
    if classes is None:
        return np.ones(len(labels), dtype=bool)
    classes = list(classes)
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must list at least two distinct labels, got {classes!r}")
    present = set(np.unique(labels).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ValueError(f"classes {missing} do not occur in the data (labels present: {sorted(present)})")
    return np.isin(labels, classes)


def relabel(labels: np.ndarray, classes: Sequence[int] | None) -> np.ndarray:
    """Map the i-th entry of `classes` to i (identity for None)."""
    if classes is None:
        return labels.astype(np.int64)
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[int(v)] for v in labels], dtype=np.int64)
