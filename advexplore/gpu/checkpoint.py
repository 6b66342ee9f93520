"""Checkpoints written atomically (a crash mid-write leaves the previous file intact), checked
when read (a SHA-256 of the payload in the header: a flipped bit is refused, not trained on),
with free space checked before a write, and the random-number-generator states a
bitwise-faithful resume needs.

File layout: MAGIC (16 bytes) | sha256 of the payload (32 bytes) | payload length (8 bytes,
big-endian) | payload (the torch.save bytes). Files without MAGIC (written before the checksum)
are still read, unchecked.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

MAGIC = b"ADVEXPLORE-CKPT1"
_HEADER = len(MAGIC) + 32 + 8
_TEMP = re.compile(r"^\..+\.tmp\d+$")  # .last.pt.tmp<PID>: the temp file of a write (save_checkpoint)
_FRESH = "delete it (the run then starts afresh; resume=False / --resume false ignores it) or restore a good copy"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and what to do."""


class CheckpointSpaceError(OSError):
    """Not enough disk space to write a checkpoint (names the file and the space needed)."""

    def __str__(self) -> str:
        return str(self.strerror)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def state_nbytes(state) -> int:
    """Bytes of the tensors in a (nested) state: what torch.save will write, give or take metadata."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(state_nbytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(state_nbytes(v) for v in state)
    return 0


def check_free_space(path, nbytes: int) -> None:
    """CheckpointSpaceError unless the folder of `path` has room for nbytes (+1 MB slack)."""
    folder = Path(path).parent
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < nbytes + 1_000_000:
        raise CheckpointSpaceError(errno.ENOSPC, f"not enough free space to write {path}: it needs about "
                                   f"{_mb(nbytes)}, {_mb(free)} is free on {folder}; free some space and "
                                   "rerun (the run resumes from its last checkpoint)", str(path))


class _HashingWriter:
    """A write-only file object that hashes (and counts) what passes through it."""

    def __init__(self, fh):
        self.fh, self.sha, self.n = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.n += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def save_checkpoint(path, state: dict) -> Path:
    """torch.save(state) with a checksum header to a temporary file in the same directory, fsync,
    then os.replace onto `path` (atomic on POSIX): readers see the old or the new checkpoint,
    never half of one. Free space is checked first; a full disk raises CheckpointSpaceError
    naming the file and the space needed, and leaves the previous checkpoint intact."""
    path = Path(path)
    need = int(state_nbytes(state) * 1.05) + _HEADER
    check_free_space(path, need)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"\0" * _HEADER)
            writer = _HashingWriter(fh)
            torch.save(state, writer)
            fh.seek(0)
            fh.write(MAGIC + writer.sha.digest() + writer.n.to_bytes(8, "big"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        # a full disk shows as ENOSPC, or as torch's "unexpected pos …" from a short write
        full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "unexpected pos" in str(err)
        if full:
            free = shutil.disk_usage(path.parent).free
            raise CheckpointSpaceError(errno.ENOSPC, f"the disk filled up while writing {path} (about {_mb(need)} "
                                       f"needed, {_mb(free)} free now); free some space and rerun (the run "
                                       "resumes from its last checkpoint, which is intact)", str(path)) from err
        raise
    finally:
        if tmp.exists():  # the write failed: drop the partial file, keep the old checkpoint
            tmp.unlink()
    return path


def remove_stale_temp_files(folder) -> list[Path]:
    """Delete the temp files (.NAME.tmpPID) that killed writes left in folder; returns them.
    Call it only while holding the folder's RunLock (a live writer's temp file looks the same)."""
    folder = Path(folder)
    stale = [p for p in folder.iterdir() if p.is_file() and _TEMP.match(p.name)] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def load_checkpoint(path, map_location="cpu") -> dict:
    """The dict saved by save_checkpoint (weights_only=False: it holds RNG states and the config).
    The checksum is verified first; any problem is a CheckpointError naming the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train the run that writes it first (or check the path)")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path} ({err.strerror or err})") from err
    if raw.startswith(MAGIC):
        digest, length = raw[len(MAGIC):len(MAGIC) + 32], int.from_bytes(raw[len(MAGIC) + 32:_HEADER], "big")
        payload = memoryview(raw)[_HEADER:]
        if len(payload) != length:
            raise CheckpointError(f"checkpoint {path} is truncated ({len(payload)} of {length} payload bytes; an "
                                  f"interrupted copy?): {_FRESH}")
        if hashlib.sha256(payload).digest() != digest:
            raise CheckpointError(f"checkpoint {path} is corrupt (its SHA-256 does not match the one written "
                                  f"with it: a damaged disk, copy or flipped bit): {_FRESH}")
        source = io.BytesIO(payload)
    else:
        source = io.BytesIO(raw)
    try:
        return torch.load(source, map_location=map_location, weights_only=False)
    except Exception as err:  # torch/pickle raise many kinds for a bad file; all mean the same here
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        raise CheckpointError(f"checkpoint {path} is not a readable advexplore checkpoint ({type(err).__name__}: "
                              f"{first}); it may be truncated or another kind of file: {_FRESH}") from err


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
