"""Data sources, all offline: synthetic Gaussian data (paper 002, eq. 4)."""
from .synthetic import gaussian_data

__all__ = ["gaussian_data"]
