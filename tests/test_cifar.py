"""CIFAR-10 reader on files written here in the real pickle-batch format (no download)."""
import pickle

import numpy as np
import pytest
import torch

from advexplore.data.cifar import load_cifar10, save_cifar10_batches
from advexplore.data.mnist import DataFormatError


def test_round_trip_in_the_real_format(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (12, 3, 32, 32), generator=g).float() / 255
    y = torch.arange(12) % 10
    save_cifar10_batches(tmp_path, x, y, "train", batches=2)
    save_cifar10_batches(tmp_path, x[:4], y[:4], "test")
    # the file itself is the documented format: rows of 1024 R, 1024 G, 1024 B bytes
    with open(tmp_path / "data_batch_1", "rb") as fh:
        raw = pickle.load(fh, encoding="bytes")
    assert raw[b"data"].dtype == np.uint8 and raw[b"data"].shape == (6, 3072)
    assert raw[b"data"][0, 1024] == round(x[0, 1, 0, 0].item() * 255)  # first green pixel
    xr, yr = load_cifar10(tmp_path, "train")
    assert xr.shape == (12, 3, 32, 32) and xr.dtype == torch.float32
    assert torch.allclose(xr, x, atol=1e-6) and torch.equal(yr, y)
    xt, yt = load_cifar10(tmp_path, "test")
    assert torch.equal(yt, y[:4])


def test_missing_and_corrupt_files_name_the_file_and_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1 not found.*cifar-10-batches-py"):
        load_cifar10(tmp_path, "train")
    (tmp_path / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DataFormatError, match="data_batch_1.*not a readable pickle"):
        load_cifar10(tmp_path, "train")
    with open(tmp_path / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(DataFormatError, match="shape"):
        load_cifar10(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, "validation")


def test_load_task_reads_a_cifar_directory(tmp_path):
    from advexplore.data.tasks import load_task
    x = torch.rand(10, 3, 32, 32)
    y = torch.arange(10)
    save_cifar10_batches(tmp_path / "cifar-10-batches-py", x, y, "train")
    save_cifar10_batches(tmp_path / "cifar-10-batches-py", x[:5], y[:5], "test")
    task = load_task(str(tmp_path))
    assert task.name == "cifar10"


@pytest.mark.parametrize("rows,labels,pattern", [
    (0, [], "holds no images"),
    (2, [0.5, 1.0], r"non-integer labels \(dtype float64, first 0.5\)"),
    (2, [0, 11], r"1 label\(s\) outside 0..9 \(first 11 at index 1\)"),
    (3, [-1, 0, 3], r"1 label\(s\) outside 0..9 \(first -1 at index 0\)"),
    (2, [0], r"labels of shape \(1,\)"),
])
def test_empty_batches_and_bad_labels_are_refused_naming_the_file(tmp_path, rows, labels, pattern):
    with open(tmp_path / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": np.zeros((rows, 3072), np.uint8), b"labels": labels}, fh)
    with pytest.raises(DataFormatError, match="data_batch_1.*" + pattern):
        load_cifar10(tmp_path, "train")
