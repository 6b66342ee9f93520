"""What a notebook hands back to headless runs: a JSON file of the numbers it computed,
so tests (and `papermill` users) can check the science, not just that cells ran.

The files are strict JSON (RFC 8259): a NaN or ±inf is written as null, never as the bare
`NaN` that Python's json module emits by default (other parsers refuse it) nor as a string."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch


def to_json_value(value):
    """value with tensors/arrays as lists, numpy scalars as Python numbers and every NaN/±inf as
    None, so json.dumps(..., allow_nan=False) accepts it (strict JSON: null, never NaN)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return to_json_value(value.item())
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(value, **kwargs) -> str:
    """json.dumps of to_json_value(value); raises rather than ever writing NaN/Infinity."""
    return json.dumps(to_json_value(value), allow_nan=False, **kwargs)


def save_results(path: str | os.PathLike | None, **values) -> None:
    """Write `values` (numbers, tensors, arrays, nested dicts/lists) as JSON to `path`,
    atomically (temp file + rename). An empty path does nothing, so notebooks call it
    unconditionally with their `results_path` parameter."""
    if not path:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps_strict(values, indent=1))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):  # the write failed: no stray temp file
            os.unlink(tmp)


def load_results(path: str | os.PathLike) -> dict:
    with open(path) as fh:
        return json.load(fh)
