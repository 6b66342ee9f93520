"""Argument checks shared by the library: every public function rejects bad input
with a ValueError/TypeError that names the argument and what is allowed, instead
of letting a NaN or a deep torch traceback escape."""
from __future__ import annotations

import math
from numbers import Integral, Real

import torch

NORMS = ("l2", "linf")
_NORM_ALIASES = {"l2": "l2", "2": "l2", "linf": "linf", "inf": "linf", "l_inf": "linf"}


def check_norm(norm, name: str = "norm") -> str:
    """Return the canonical norm name ('l2' or 'linf'); accepts 'L2', 'Linf', 'inf', 2, inf."""
    if isinstance(norm, Real) and not isinstance(norm, bool):
        key = "inf" if math.isinf(norm) else str(int(norm)) if float(norm).is_integer() else str(norm)
    elif isinstance(norm, str):
        key = norm.strip().lower().replace("∞", "inf")
    else:
        raise TypeError(f"{name} must be one of {NORMS}, got {norm!r} of type {type(norm).__name__}")
    if key not in _NORM_ALIASES:
        raise ValueError(f"{name} must be one of {NORMS}, got {norm!r}")
    return _NORM_ALIASES[key]


def as_float_tensor(value, name: str, dtype=None, device=None) -> torch.Tensor:
    """Convert value to a floating tensor. Python and numpy input become float64
    (the exact theory is computed in double precision); floating tensors keep their dtype."""
    if isinstance(value, torch.Tensor):
        t = value
        if not t.is_floating_point():
            t = t.to(torch.float64)
    else:
        try:
            t = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a number, array or tensor, got {type(value).__name__}") from err
    if dtype is not None or device is not None:
        t = t.to(dtype=dtype or t.dtype, device=device or t.device)
    if torch.isnan(t).any():
        raise ValueError(f"{name} contains NaN")
    return t


def check_nonnegative(value, name: str, dtype=None, device=None) -> torch.Tensor:
    """A tensor of values >= 0 (finite or +inf is refused too: the risks need finite input)."""
    t = as_float_tensor(value, name, dtype, device)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (t < 0).any():
        raise ValueError(f"{name} must be >= 0, got {t.min().item():g}")
    return t


def check_vector(value, name: str, dtype=None, device=None) -> torch.Tensor:
    """A finite tensor with at least one dimension (the last one is the feature dimension d)."""
    t = as_float_tensor(value, name, dtype, device)
    if t.dim() == 0:
        raise ValueError(f"{name} must have shape (..., d) with d >= 1, got a scalar")
    if t.shape[-1] == 0:
        raise ValueError(f"{name} must have d >= 1 features, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite")
    return t


def check_cov(cov, d: int, dtype, device, name: str = "cov") -> torch.Tensor | None:
    """None (identity) or a symmetric positive-definite (d, d) matrix."""
    if cov is None:
        return None
    c = as_float_tensor(cov, name, dtype, device)
    if c.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}) to match d={d}, got {tuple(c.shape)}")
    if not torch.isfinite(c).all():
        raise ValueError(f"{name} must be finite")
    scale = c.abs().max().clamp_min(1e-300)
    if (c - c.T).abs().max() > 1e-8 * scale:
        raise ValueError(f"{name} must be symmetric")
    _, info = torch.linalg.cholesky_ex(c.to(torch.float64))
    if info.item() != 0:
        raise ValueError(f"{name} must be positive definite (Cholesky failed)")
    return c


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """An integer (Python, numpy or 0-d integer tensor) >= minimum."""
    if isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_same_last_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same last dimension d, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
