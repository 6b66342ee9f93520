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


def check_nonnegative(value, name: str, dtype=None, device=None, empty_ok: bool = True) -> torch.Tensor:
    """A tensor of values >= 0 (finite or +inf is refused too: the risks need finite input);
    empty_ok=False refuses a tensor without values (an empty ε-grid)."""
    t = as_float_tensor(value, name, dtype, device)
    if not empty_ok and t.numel() == 0:
        raise ValueError(f"{name} must hold at least one value, got an empty tensor of shape {tuple(t.shape)}")
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


class NonFiniteError(FloatingPointError):
    """Training produced NaN or inf (a loss, a gradient norm or a weight); the message says
    which quantity and at which step, and training stops there."""


def check_finite_value(value: float, what: str, where: str) -> float:
    """value (a loss read once per step anyway) if finite; else NonFiniteError naming it."""
    if not math.isfinite(value):
        raise NonFiniteError(f"{what} is {value} at {where}: training diverged and was stopped "
                             "(a smaller learning rate usually helps)")
    return value


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


def check_scalar(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """One finite number >= minimum (> minimum when strict), as a float; a tensor of several
    values is refused with its shape (e.g. eps=torch.ones(8) where one radius is expected)."""
    t = as_float_tensor(value, name)
    if t.numel() != 1:
        raise ValueError(f"{name} must be a single number, got a tensor of shape {tuple(t.shape)}")
    v = float(t.reshape(()))
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if v < minimum or (strict and v == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {v:g}")
    return v


def check_finite_tensor(t, name: str, floating: bool = False) -> torch.Tensor:
    """A non-empty tensor without NaN or ±inf (floating=True: of a floating dtype too)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if floating and not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} must be finite: it holds {bad} NaN/inf value(s) of {t.numel()}")
    return t


def check_model(model, name: str = "model"):
    """Anything callable on a batch (an nn.Module or a function of x)."""
    if not callable(model):
        raise TypeError(f"{name} must be callable (an nn.Module or a function of x), got {type(model).__name__}")
    return model


def _first_layer(model):
    """('features', d, flattened) or ('channels', c, spatial dims) of the model's first layer when
    it can be read off safely (advexplore's models with `.d`, nn.Linear, convolutions, nn.Sequential,
    a custom module whose first registered part is a convolution: an image network's stem), else None."""
    d = getattr(model, "d", None)
    if type(model).__module__.startswith("advexplore.") and isinstance(d, int) and not isinstance(d, bool):
        return ("features", d, False)  # MLP, TwoLayerNet: x of shape (n, d)
    flattened = False
    while True:
        if isinstance(model, torch.nn.Linear):
            return ("features", model.in_features, flattened)
        if isinstance(model, torch.nn.modules.conv._ConvNd):
            return ("channels", model.in_channels, len(model.kernel_size))
        if isinstance(model, torch.nn.Sequential):
            parts = list(model.children())
            while parts and not any(True for _ in parts[0].parameters()):
                flattened |= isinstance(parts[0], torch.nn.Flatten)
                if not isinstance(parts[0], (torch.nn.Flatten, torch.nn.Identity, torch.nn.Dropout)):
                    return None  # a parameter-free map that may reshape: no safe guess
                parts.pop(0)
            if not parts:
                return None
            model = parts[0]
            continue
        if not isinstance(model, torch.nn.Module):
            return None
        children = list(model.children())
        conv = children[0] if children else None
        if isinstance(conv, torch.nn.modules.conv._ConvNd):
            return ("channels", conv.in_channels, len(conv.kernel_size))
        return None


def check_model_input(model, x: torch.Tensor, name: str = "x") -> None:
    """x fits the model: same dtype and device as its parameters (TypeError naming both), and
    the width or channel count its first layer expects (ValueError naming the expected shape)."""
    check_model(model)
    if not isinstance(model, torch.nn.Module):
        return
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    if param is not None:
        if param.device != x.device:
            raise TypeError(f"{name} is on device {x.device} but the model's parameters are on {param.device}; "
                            f"move one (x.to('{param.device}') or model.to('{x.device}'))")
        if param.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the model's parameters are {param.dtype}; "
                            f"convert one (x.to({param.dtype}) or model.to({x.dtype}))")
    layer = _first_layer(model)
    if layer is None:
        return
    kind, size, extra = layer
    shape = tuple(x.shape)
    if kind == "features":
        width = x[0].numel() if extra else (shape[-1] if x.dim() else 0)
        if width != size:
            want = f"(n, ...) with {size} values per sample" if extra else f"(n, {size})"
            raise ValueError(f"{name} must have shape {want} for this model (its first layer takes "
                             f"{size} inputs), got {shape}")
    elif x.dim() != extra + 2 or shape[1] != size:
        want = "(n, " + ", ".join([str(size)] + ["..."] * extra) + ")"
        raise ValueError(f"{name} must have shape {want} for this model (its first layer takes {size} "
                         f"channels), got {shape}")


def check_batch(model, x, y, eps=None, eps_name: str = "eps", with_model: bool = True):
    """The shared checks of every attack, training loop, risk and bound that takes a batch:
    model callable, x a finite floating (n, ...) tensor that fits the model, y a finite tensor with
    n rows (y=None: not checked; with_model=False: no model to check), eps (if given) a radius >= 0 that is a number or (n,) per-sample radii. Returns eps
    shaped to broadcast against x ((), or (n, 1, ..., 1)); None when eps is None."""
    if with_model:
        check_model(model)
    check_finite_tensor(x, "x", floating=True)
    if x.dim() < 2:
        raise ValueError(f"x must have shape (n, ...) with a batch dimension, got {tuple(x.shape)}")
    if y is None:  # functions of x alone (confidence, Jacobians)
        pass
    elif not isinstance(y, torch.Tensor) or y.dim() == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be a tensor with {x.shape[0]} rows to match x, got "
                         f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
    else:
        check_finite_tensor(y, "y")
    if with_model:
        check_model_input(model, x)
    if eps is None:
        return None
    eps = check_nonnegative(eps, eps_name, dtype=x.dtype, device=x.device)
    if eps.dim() > 1 or (eps.dim() == 1 and eps.shape[0] != x.shape[0]):
        raise ValueError(f"{eps_name} must be a number or a tensor of shape ({x.shape[0]},), got shape "
                         f"{tuple(eps.shape)}")
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
    lr = check_scalar(lr, "lr", strict=True)  # one finite number > 0
    steps = check_positive_int(steps, "steps")
    check_model(model)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.shape[0] != y.shape[0]:
        raise ValueError("x and y must be tensors with the same number of rows")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be None or a callable (step, model, loss), got {type(callback).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    return lr, steps, params
