"""A fair queue for refits (training runs) across every student's kernel of one server.

Thirty kernels that each start a training run on a 2-core machine all finish late; run one per
core, first come first served, and tell the others how long they wait. `advexplore teach`
gives its kernels a shared folder (ADVEXPLORE_REFIT_DIR) and the number of refits that may run
at once (ADVEXPLORE_REFIT_SLOTS, default: the CPU count). Each refit takes a ticket (a file
named by its arrival time) and runs when its ticket is among the first `slots`; tickets of
kernels that died are removed by whoever sees them. A kernel handles one widget event at a
time, so a student holds at most one ticket: FIFO is fair between students.

    from advexplore.widgets.refit_queue import refit_slot

    with refit_slot(lambda text: setattr(label, "value", text)):
        explorer.train(progress)

Without ADVEXPLORE_REFIT_DIR (JupyterLab, headless runs, tests) `refit_slot` does nothing.
"""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

SUFFIX = ".ticket"
DURATIONS = "durations.jsonl"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RefitQueue:
    def __init__(self, directory: str | os.PathLike, slots: int | None = None, poll: float = 0.25):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.slots = max(1, int(slots or os.environ.get("ADVEXPLORE_REFIT_SLOTS") or os.cpu_count() or 1))
        self.poll = poll

    @classmethod
    def from_environment(cls) -> "RefitQueue | None":
        directory = os.environ.get("ADVEXPLORE_REFIT_DIR")
        return cls(directory) if directory else None

    # -- tickets ------------------------------------------------------------------------------
    def _take(self) -> Path:
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        path = self.dir / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        return path

    def tickets(self) -> list[Path]:
        """Live tickets in arrival order (stale ones, of dead processes, are removed)."""
        live = []
        for path in sorted(self.dir.glob("*" + SUFFIX)):
            try:
                pid = int(path.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if _alive(pid):
                live.append(path)
            else:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
        return live

    def position(self, ticket: Path) -> int:
        """0-based place of `ticket` in the queue (< slots: it may run)."""
        names = [t.name for t in self.tickets()]
        return names.index(ticket.name) if ticket.name in names else 0

    # -- durations, for the estimate shown to waiting students ------------------------------------
    def typical_seconds(self) -> float | None:
        path = self.dir / DURATIONS
        try:
            lines = path.read_text().splitlines()[-20:]
        except FileNotFoundError:
            return None
        values = [json.loads(x) for x in lines if x.strip()]
        return sum(values) / len(values) if values else None

    def _record(self, seconds: float) -> None:
        with open(self.dir / DURATIONS, "a") as fh:
            fh.write(f"{seconds:.3f}\n")

    def wait_text(self, ahead: int) -> str:
        typical = self.typical_seconds()
        rounds = math.ceil(ahead / self.slots)
        about = f" (about {max(1, round(rounds * typical))} s)" if typical else ""
        who = "1 run" if ahead == 1 else f"{ahead} runs"
        return f"queued: {who} ahead of you on {self.slots} CPU{'s' if self.slots > 1 else ''}{about}"

    @contextmanager
    def slot(self, report: Callable[[str], None] | None = None):
        ticket = self._take()
        try:
            last = None
            while True:
                place = self.position(ticket)
                if place < self.slots:
                    break
                text = self.wait_text(place - self.slots + 1)
                if report is not None and text != last:
                    report(text)
                    last = text
                time.sleep(self.poll)
            if report is not None and last is not None:
                report("")
            start = time.perf_counter()
            yield
            self._record(time.perf_counter() - start)
        finally:
            try:
                ticket.unlink()
            except FileNotFoundError:
                pass


@contextmanager
def refit_slot(report: Callable[[str], None] | None = None):
    """Wait for a free slot of this server's refit queue (if there is one), then run the block."""
    queue = RefitQueue.from_environment()
    if queue is None:
        yield
        return
    with queue.slot(report):
        yield
