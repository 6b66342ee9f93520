"""What a notebook hands back to headless runs: a JSON file of the numbers it computed,
so tests (and `papermill` users) can check the science, not just that cells ran."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch


def _plain(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def save_results(path: str | os.PathLike | None, **values) -> None:
    """Write `values` (numbers, tensors, arrays, nested dicts/lists) as JSON to `path`,
    atomically (temp file + rename). An empty path does nothing, so notebooks call it
    unconditionally with their `results_path` parameter."""
    if not path:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(_plain(values), fh, indent=1)
    os.replace(tmp, path)


def load_results(path: str | os.PathLike) -> dict:
    with open(path) as fh:
        return json.load(fh)
