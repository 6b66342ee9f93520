"""One writer per out_dir: a lock file (the `filelock` package, an OS-level flock that the kernel
drops when its process dies) held for the whole run, and beside it a small JSON note of who holds
it (PID, host, start time), so a second run can name the holder and a run that finds a note
without a live lock knows its writer died and takes over (saying so).

    out_dir/.lock        the lock itself (empty; never delete it while a run is going)
    out_dir/.lock.json   {"pid", "host", "started", "argv"} of the current holder

Under torchrun only rank 0 holds it (rank 0 alone writes checkpoints; every node's local rank 0
would contend for the same file when out_dir is shared, as it must be); the trainer turns the
outcome into the same error on every rank.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"
OWNER_NAME = ".lock.json"


class OutDirLocked(RuntimeError):
    """Another process is writing this out_dir (the message names it)."""


def _owner_text(owner: dict | None) -> str:
    if not owner:
        return "another process (it has not written its PID yet)"
    return (f"PID {owner.get('pid')} on host {owner.get('host')} (started {owner.get('started')}: "
            f"{' '.join(owner.get('argv', []))[:200]})")


def read_owner(out_dir) -> dict | None:
    """The holder note of out_dir, or None (absent or unreadable)."""
    try:
        return json.loads((Path(out_dir) / OWNER_NAME).read_text())
    except (OSError, ValueError):
        return None


class RunLock:
    """lock = RunLock(out_dir); lock.acquire() ... lock.release() (or `with RunLock(out_dir):`).

    acquire() never waits: if another live process holds out_dir it raises OutDirLocked naming
    that process; a holder note left by a dead process is reported and replaced."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self._lock = FileLock(str(self.out_dir / LOCK_NAME))
        self.took_over: dict | None = None  # the dead holder's note, when a stale lock was taken over

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self, note: bool = True) -> "RunLock":
        """Take the lock (note=False: only check that it is free, then let it go again)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise OutDirLocked(f"{self.out_dir} is in use by {_owner_text(read_owner(self.out_dir))}; wait for "
                               f"that run to finish (or stop it), or choose another out_dir. Lock file: "
                               f"{self.out_dir / LOCK_NAME}") from None
        if not note:
            self._lock.release()
            return self
        stale = read_owner(self.out_dir)
        if stale and (stale.get("pid"), stale.get("host")) != (os.getpid(), socket.gethostname()):
            self.took_over = stale
            log.warning("taking over the stale lock of %s: that process ended without releasing %s",
                        _owner_text(stale), self.out_dir)
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv}
        tmp = self.out_dir / f"{OWNER_NAME}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(owner))
        os.replace(tmp, self.out_dir / OWNER_NAME)
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            owner = read_owner(self.out_dir)
            if owner and owner.get("pid") == os.getpid():
                (self.out_dir / OWNER_NAME).unlink(missing_ok=True)
            self._lock.release()

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
