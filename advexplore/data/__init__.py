"""Data sources, all offline: synthetic Gaussian data (paper 002, eq. 4), the bundled digits,
and MNIST from IDX files in a directory the user names."""
from .digits import load_digits
from .mnist import DataFormatError, load_mnist, read_idx, write_idx
from .synthetic import gaussian_data
from .tasks import ImageTask, load_task, subsample

__all__ = ["DataFormatError", "ImageTask", "gaussian_data", "load_digits", "load_mnist", "load_task",
           "read_idx", "subsample", "write_idx"]
