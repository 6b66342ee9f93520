"""Offline data: the bundled digits, and the MNIST IDX reader on tiny files that the tests write
byte by byte in the real format (independent of advexplore's own writer), raw and gzipped,
plus corrupt ones."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from advexplore.data import DataFormatError, load_digits, load_mnist, load_task, read_idx, subsample, write_idx


pytestmark = pytest.mark.usefixtures("one_thread")  # small matrices: see conftest.one_thread


def _idx_bytes(array: np.ndarray) -> bytes:
    """IDX by hand (struct, big-endian): 0, 0, 0x08 (ubyte), ndim, dims as >I, data."""
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.astype(np.uint8).tobytes()


def _write_mnist(root, images, labels, split="train", gz=False):
    stem = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]
    for name, arr in zip(stem, (images, labels)):
        data = _idx_bytes(arr)
        (root / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def tiny_mnist():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 1, 0, 9, 1], dtype=np.uint8)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reader_roundtrip(tmp_path, tiny_mnist, gz):
    images, labels = tiny_mnist
    _write_mnist(tmp_path, images, labels, "train", gz)
    _write_mnist(tmp_path, images[:3], labels[:3], "test", not gz)  # mixed raw/gz in one directory
    x, y = load_mnist(tmp_path, "train")
    assert x.shape == (7, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_allclose(x[:, 0].numpy(), images / 255.0, rtol=0, atol=1e-7)
    assert y.tolist() == labels.tolist()
    x_te, y_te = load_mnist(tmp_path, "test")
    assert x_te.shape[0] == 3 and y_te.tolist() == [0, 1, 2]
    x01, y01 = load_mnist(tmp_path, "train", classes=(0, 1))
    assert y01.tolist() == [0, 1, 1, 0, 1]
    np.testing.assert_allclose(x01[1, 0].numpy(), images[1] / 255.0, atol=1e-7)


def test_write_idx_matches_hand_written_bytes(tmp_path, tiny_mnist):
    images, _ = tiny_mnist
    assert write_idx(tmp_path / "a", images).read_bytes() == _idx_bytes(images)
    assert gzip.decompress(write_idx(tmp_path / "a.gz", images).read_bytes()) == _idx_bytes(images)
    assert np.array_equal(read_idx(tmp_path / "a.gz", expected_dims=3), images)


def test_missing_directory_and_file_name_what_to_put_where(tmp_path, tiny_mnist):
    with pytest.raises(FileNotFoundError, match="does not exist.*train-images-idx3-ubyte"):
        load_mnist(tmp_path / "nowhere")
    images, labels = tiny_mnist
    _write_mnist(tmp_path, images, labels, "train")
    with pytest.raises(FileNotFoundError) as err:
        load_mnist(tmp_path, "test")
    message = str(err.value)
    assert "t10k-images-idx3-ubyte" in message and str(tmp_path) in message and "never" in message


@pytest.mark.parametrize("corrupt, pattern", [
    (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),          # wrong magic
    (lambda b: b[:2] + b"\x0d" + b[3:], "type code"),            # float type, not ubyte
    (lambda b: b[:-5], "truncated"),                              # body cut short
    (lambda b: b[:10], "truncated"),                              # header cut short
    (lambda b: gzip.compress(b)[:30], "gzip"),                    # broken gzip stream
])
def test_corrupt_files_are_named(tmp_path, tiny_mnist, corrupt, pattern):
    images, labels = tiny_mnist
    _write_mnist(tmp_path, images, labels, "train")
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataFormatError, match=pattern) as err:
        load_mnist(tmp_path, "train")
    assert "train-images-idx3-ubyte" in str(err.value)


def test_labels_file_with_images_header_and_count_mismatch(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    _write_mnist(tmp_path, images, labels[:5], "train")
    with pytest.raises(DataFormatError, match="7 images but .* 5 labels"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(images))
    with pytest.raises(DataFormatError, match="3 dimensions, expected 1"):
        load_mnist(tmp_path)


def test_digits_binary_and_ten_classes():
    from sklearn.datasets import load_digits as sk
    raw = sk()
    x, y = load_digits((0, 1))
    assert x.shape == (int(np.isin(raw.target, [0, 1]).sum()), 1, 8, 8) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0 and set(y.tolist()) == {0, 1}
    np.testing.assert_allclose(x[0, 0].numpy(), raw.images[raw.target == 0][0] / 16.0)
    x10, y10 = load_digits()
    assert x10.shape == (1797, 1, 8, 8) and sorted(set(y10.tolist())) == list(range(10))
    _, y_rev = load_digits((1, 0))  # labels follow the order given
    assert (y_rev == 0).sum() == (raw.target == 1).sum()
    with pytest.raises(ValueError, match="classes"):
        load_digits((3,))
    with pytest.raises(ValueError, match="do not occur"):
        load_digits((0, 11))


def test_task_split_and_stratified_subsample():
    task = load_task("", classes=(0, 1), test_fraction=0.5, seed=1)
    assert task.name == "digits" and task.num_classes == 2 and task.pixels == 64
    assert len(task.y_train) + len(task.y_test) == 360
    train_rows = {tuple(r) for r in task.x_train.flatten(1).tolist()}
    assert not any(tuple(r) in train_rows for r in task.x_test.flatten(1).tolist()[:50])
    xs, ys = subsample(task.x_train, task.y_train, 11, torch.Generator().manual_seed(0))
    assert xs.shape == (11, 1, 8, 8) and sorted(torch.bincount(ys).tolist()) == [5, 6]
    with pytest.raises(ValueError, match="n must"):
        subsample(task.x_train, task.y_train, 1)


def test_task_reads_mnist_directory(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    _write_mnist(tmp_path, images, labels, "train", gz=True)
    _write_mnist(tmp_path, images[:4], labels[:4], "test", gz=True)
    task = load_task(str(tmp_path), classes=(0, 1))
    assert task.name == "mnist" and task.pixels == 784 and task.y_train.tolist() == [0, 1, 1, 0, 1]
    assert task.y_test.tolist() == [0, 1, 1]


def test_cifar_directories_are_told_apart_from_mnist(tmp_path):
    from advexplore.data.tasks import cifar_root
    assert cifar_root(str(tmp_path)) is None  # → read as MNIST
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    assert cifar_root(str(tmp_path)) == tmp_path / "cifar-10-batches-py"
    (tmp_path / "data_batch_1").write_bytes(b"")
    assert cifar_root(str(tmp_path)) == tmp_path


def test_task_reads_a_cifar10_directory(tmp_path):
    """Tiny batches in the real pickle format (written by advexplore.data.cifar's writer), read
    through load_task with a class filter, from the parent or the batch folder itself."""
    from advexplore.data.cifar import save_cifar10_batches
    g = torch.Generator().manual_seed(0)
    folder = tmp_path / "cifar-10-batches-py"
    save_cifar10_batches(folder, torch.rand(12, 3, 32, 32, generator=g), torch.arange(12) % 10, "train")
    save_cifar10_batches(folder, torch.rand(6, 3, 32, 32, generator=g), torch.arange(6) % 10, "test")
    task = load_task(str(tmp_path), classes=(3, 5))
    assert task.name == "cifar10" and task.pixels == 3072
    assert task.y_train.tolist() == [0, 1] and task.y_test.tolist() == [0, 1]
    assert load_task(str(folder)).x_test.shape == (6, 3, 32, 32)


def test_mnist_labels_outside_0_to_9_and_empty_files_are_refused(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    bad = labels.copy()
    bad[2] = 200  # a uint8 label of 200 would otherwise make a 201-class problem
    _write_mnist(tmp_path, images, bad)
    with pytest.raises(DataFormatError, match=r"train-labels-idx1-ubyte: 1 label\(s\) outside 0..9 \(first 200 at index 2\)"):
        load_mnist(tmp_path, "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    _write_mnist(empty, images[:0], labels[:0])
    with pytest.raises(DataFormatError, match="train-images-idx3-ubyte holds no images"):
        load_mnist(empty, "train")
