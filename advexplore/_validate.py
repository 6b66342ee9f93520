"""Argument checks shared by the library: every public function rejects bad input
with a ValueError/TypeError that names the argument and what is allowed, instead
of letting a NaN or a deep torch traceback escape."""
from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from torch import nn

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


def check_batch(x, y, eps, name: str = "eps") -> torch.Tensor:
    """Check an attack's batch: x a floating (n, ...) tensor, y with n rows, eps ≥ 0 a number or
    a (n,) tensor. Returns eps in x's dtype, shaped () or (n, 1, …, 1) to broadcast against x."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point tensor of shape (n, ...)")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (n, ...) with a batch dimension, got {tuple(x.shape)}")
    if not isinstance(y, torch.Tensor) or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be a tensor with {x.shape[0]} rows to match x")
    eps = check_nonnegative(eps, name, dtype=x.dtype, device=x.device)
    if eps.dim() > 1 or (eps.dim() == 1 and eps.shape[0] != x.shape[0]):
        raise ValueError(f"{name} must be a number or a tensor of shape ({x.shape[0]},)")
    return eps.reshape(-1, *([1] * (x.dim() - 1))) if eps.dim() == 1 else eps


def check_clip(clip) -> tuple[float, float] | None:
    """None (unbounded inputs) or a valid input range (low, high) with low < high."""
    if clip is None:
        return None
    low, high = clip
    if not low < high:
        raise ValueError(f"clip must be (low, high) with low < high, got {clip!r}")
    return low, high


def check_training_args(model, x, y, lr, steps, callback) -> tuple[float, int, list[torch.Tensor]]:
    """The checks every trainer makes, with the same messages (adversarial_train,
    regularized_train, the explorer's fit_standard): model an nn.Module with trainable
    parameters, x and y tensors with the same rows, lr > 0, steps ≥ 1, callback None or callable.
    Returns (lr, steps, the trainable parameters)."""
    lr_t = check_nonnegative(lr, "lr")
    if lr_t.dim() != 0 or float(lr_t) <= 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    steps = check_positive_int(steps, "steps")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.shape[0] != y.shape[0]:
        raise ValueError("x and y must be tensors with the same number of rows")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be None or a callable (step, model, loss), got {type(callback).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    return float(lr_t), steps, params
