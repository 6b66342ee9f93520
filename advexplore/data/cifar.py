"""CIFAR-10 from the standard "python version" pickle batches in a directory the user names.

Expected files (from cifar-10-python.tar.gz, folder cifar-10-batches-py/): data_batch_1 …
data_batch_5 (training, 10 000 images each) and test_batch; each a pickle of a dict with
b"data" (N, 3072) uint8 rows (1024 red, 1024 green, 1024 blue values of a 32×32 image) and
b"labels" (N ints in 0–9). Nothing is ever downloaded.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from .mnist import DataFormatError, check_label_range

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FORMAT = ("CIFAR-10 'python version' batches: files data_batch_1 … data_batch_5 and test_batch, "
           "each a pickle of {b'data': uint8 array (N, 3072), b'labels': list of N ints in 0..9}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise DataFormatError(f"{path.name} in {path.parent} is not a readable pickle ({err}); "
                              f"expected {_FORMAT}") from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFormatError(f"{path.name} in {path.parent} lacks the keys b'data'/b'labels'; "
                              f"expected {_FORMAT}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise DataFormatError(f"{path.name} in {path.parent} holds data of shape {data.shape} "
                              f"({data.dtype}) with labels of shape {labels.shape}; expected {_FORMAT}")
    if len(data) == 0:
        raise DataFormatError(f"{path.name} in {path.parent} holds no images (an empty batch); expected {_FORMAT}")
    if labels.dtype.kind not in "iu":  # 0.5 would silently become class 0
        raise DataFormatError(f"{path.name} in {path.parent} has non-integer labels (dtype {labels.dtype}, "
                              f"first {labels[0].item()!r}); expected {_FORMAT}")
    check_label_range(labels, len(CLASSES), path)
    return data, labels.astype(np.int64)


def load_cifar10(root, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images x (N, 3, 32, 32) float32 in [0, 1] and labels y (N,) int64.

    Args: root: the directory holding the batches (e.g. .../cifar-10-batches-py);
        split: "train" (data_batch_1 … 5; missing later batches are allowed if
        data_batch_1 exists, for small test sets) or "test" (test_batch).
    Raises FileNotFoundError naming the directory and the files to put there, and
    DataFormatError (a ValueError) naming the file and the expected format.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser()
    names = TRAIN_FILES if split == "train" else TEST_FILES
    paths = [root / name for name in names if (root / name).exists()]
    if not paths or not (root / names[0]).exists():
        raise FileNotFoundError(f"{names[0]} not found in {root}: put the CIFAR-10 python batches "
                                f"({', '.join(TRAIN_FILES + TEST_FILES)}) there, e.g. the extracted "
                                "cifar-10-batches-py/ folder of cifar-10-python.tar.gz")
    data, labels = zip(*(_read_batch(p) for p in paths))
    x = torch.from_numpy(np.concatenate(data)).reshape(-1, 3, 32, 32).float().div_(255.0)
    return x, torch.from_numpy(np.concatenate(labels))


def save_cifar10_batches(root, x: torch.Tensor, y: torch.Tensor, split: str = "train",
                         batches: int = 1) -> list[Path]:
    """Write images x (N, 3, 32, 32) in [0, 1] and labels y (N,) in the real CIFAR-10 format
    (for tests, smoke runs and toy data sets); returns the files written."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    x = torch.as_tensor(x)
    if x.dim() != 4 or tuple(x.shape[1:]) != (3, 32, 32) or len(y) != len(x):
        raise ValueError(f"x must have shape (N, 3, 32, 32) with N = len(y), got {tuple(x.shape)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data = (x.clamp(0, 1) * 255).round().to(torch.uint8).reshape(len(x), -1).numpy()
    labels = torch.as_tensor(y).long().tolist()
    names = TRAIN_FILES[:batches] if split == "train" else TEST_FILES
    chunks = np.array_split(np.arange(len(x)), len(names))
    written = []
    for name, idx in zip(names, chunks):
        with open(root / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"data": data[idx],
                         b"labels": [labels[i] for i in idx]}, fh)
        written.append(root / name)
    return written
