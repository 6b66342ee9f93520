"""MNIST from the standard IDX files in a directory the user names — never downloaded.

Expected files (raw or gzipped, e.g. as distributed by LeCun/Cortes/Burges):
    train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]
(the variants 'train-images.idx3-ubyte' with a dot are accepted too). IDX format: a 4-byte
magic 0x00 0x00 <type code, 0x08 = unsigned byte> <number of dimensions>, then one big-endian
int32 per dimension, then the data in C order.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .digits import relabel, select_classes

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_UBYTE = 0x08
EXPECTED = ("the four MNIST IDX files, raw or .gz: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (IDX format: magic 0x00000803 for "
            "images (N, 28, 28), 0x00000801 for labels (N,), unsigned bytes)")


class DataFormatError(ValueError):
    """A data file exists but is not in the expected format (the message names file and format)."""


def check_label_range(labels: np.ndarray, classes: int, path) -> None:
    """DataFormatError naming the file unless every label is an integer in 0..classes−1."""
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise DataFormatError(f"{path}: {int(bad.sum())} label(s) outside 0..{classes - 1} (first "
                              f"{labels[bad][0].item()!r} at index {int(np.flatnonzero(bad)[0])})")


def read_idx(path, expected_dims: int | None = None) -> np.ndarray:
    """Read one IDX file (raw or .gz, decided by the gzip magic bytes) into a uint8 array.

    Args:
        path: the file. expected_dims: required number of dimensions (3 images, 1 labels) or None.
    Raises:
        FileNotFoundError if absent; DataFormatError naming the file for a wrong magic, a type
        other than unsigned byte, or a truncated/overlong body.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataFormatError(f"{path}: corrupt gzip stream ({err}); expected an IDX file, raw or .gz") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataFormatError(f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}, "
                              "expected 0000 08 <ndim>)")
    if raw[2] != _UBYTE:
        raise DataFormatError(f"{path}: IDX type code 0x{raw[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    if expected_dims is not None and ndim != expected_dims:
        raise DataFormatError(f"{path}: IDX file with {ndim} dimensions, expected {expected_dims} "
                              f"(magic 0x{0x800 + expected_dims:08x})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    size = int(np.prod(shape)) if shape else 0
    if len(raw) - header != size:
        raise DataFormatError(f"{path}: IDX body has {len(raw) - header} bytes but the header "
                              f"announces shape {shape} = {size} bytes (truncated or corrupt file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file (gzipped if compress, default: path ends in .gz).
    The inverse of `read_idx`; used by tests to build tiny MNIST directories."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    body = bytes([0, 0, _UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes() + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        body = gzip.compress(body)
    path.write_bytes(body)
    return path


def find_idx_file(root: Path, stem: str) -> Path:
    """The file for `stem` in root: stem, stem.gz, or the dotted variant (…-images.idx3-ubyte)."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(
        f"MNIST file '{stem}' (or '{stem}.gz') not found in directory '{root}'. advexplore never "
        f"downloads data: put {EXPECTED} into '{root}'.")


def load_mnist(root, split: str = "train", classes: Sequence[int] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images and labels from the IDX files in directory `root`.

    Args:
        root: directory holding the files listed in the module docstring.
        split: "train" (60000 images) or "test" (t10k, 10000 images).
        classes: digits to keep (e.g. (0, 1) for paper 002 Fig. 4), re-numbered 0..k−1; None = all.
    Returns:
        x: (N, 1, 28, 28) float32 in [0, 1] (pixel / 255); y: (N,) int64.
    Example:
        >>> x, y = load_mnist("~/data/mnist", "test", classes=(0, 1))
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {tuple(MNIST_FILES)}, got {split!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST directory '{root}' does not exist; put {EXPECTED} there.")
    image_stem, label_stem = MNIST_FILES[split]
    image_path, label_path = find_idx_file(root, image_stem), find_idx_file(root, label_stem)
    images = read_idx(image_path, expected_dims=3)  # (N, H, W)
    labels = read_idx(label_path, expected_dims=1)  # (N,)
    if images.shape[0] != labels.shape[0]:
        raise DataFormatError(f"{image_path} holds {images.shape[0]} images but {label_path} holds "
                              f"{labels.shape[0]} labels (in '{root}'); expected {EXPECTED}")
    if images.shape[0] == 0:
        raise DataFormatError(f"{image_path} holds no images (in '{root}'); expected {EXPECTED}")
    check_label_range(labels, 10, label_path)
    labels = labels.astype(np.int64)
    keep = select_classes(labels, classes)
    x = torch.from_numpy(images[keep].astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, H, W)
    y = torch.from_numpy(relabel(labels[keep], classes))
    return x, y
