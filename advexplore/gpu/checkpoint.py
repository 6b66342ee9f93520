"""Checkpoints written atomically (a crash mid-write leaves the previous file intact) and the
random-number-generator states a bitwise-faithful resume needs."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def save_checkpoint(path, state: dict) -> Path:
    """torch.save(state) to a temporary file in the same directory, fsync, then os.replace onto
    `path` (atomic on POSIX): readers see the old or the new checkpoint, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # the write failed: drop the partial file, keep the old checkpoint
            tmp.unlink()
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """The dict saved by save_checkpoint (weights_only=False: it holds RNG states and the config)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location=map_location, weights_only=False)


def rng_state(generator: torch.Generator | None = None) -> dict:
    """Python, NumPy, torch CPU (and CUDA) global states, and `generator`'s state."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Restore what rng_state saved."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])
