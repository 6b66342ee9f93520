"""Data sources, all offline: synthetic Gaussian data (paper 002, eq. 4), the bundled digits,
MNIST from IDX files and CIFAR-10 from its python batches in a directory the user names."""
from .cifar import load_cifar10, save_cifar10_batches
from .digits import load_digits
from .mnist import DataFormatError, load_mnist, read_idx, write_idx
from .synthetic import gaussian_data
from .tasks import ImageTask, load_task, subsample

__all__ = ["DataFormatError", "ImageTask", "gaussian_data", "load_cifar10", "load_digits", "load_mnist", "load_task",
           "save_cifar10_batches",
           "read_idx", "subsample", "write_idx"]
