"""Kernels forked from one warm process: the classroom's memory and start-up saver.

A normal Jupyter kernel is a fresh `python -m ipykernel_launcher`: every student's page pays
the interpreter start and the imports of torch, plotly, ipywidgets and advexplore again
(≈ 10 s of CPU and ≈ 0.2 GiB of private memory per page on the 2-core test machine).
Here one *template* process (started once per server) imports what the notebook imports and
then waits; each kernel is an `os.fork()` of it. The child shares the template's memory
copy-on-write (torch's code and data are never copied), so a page costs only what its own
notebook computes, and starts in well under a second.

    server (Voilà)  --unix socket-->  template: `python -m advexplore.app.kernel_template SOCKET MODULE...`
                                          `-- fork() -> ipykernel (one per page)

The kernel command of the kernelspec must be `<this interpreter> [-X...] -m ipykernel_launcher
...`; anything else (another interpreter, another kernel) is launched the normal way, as is every
kernel when the template cannot start. The template runs single-threaded (the server starts it
with OMP/OpenBLAS/MKL threads = 1; it refuses to fork otherwise) and never executes user code.

This module is the server's side (what to preload, Template, ForkedProcess); the template
process itself is advexplore.app.kernel_template.
"""
from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported by every kernel at start-up (ipykernel, IPython, the comm/widget machinery).
KERNEL_MODULES = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.iostream",
    "ipykernel.heartbeat", "ipykernel.comm", "ipykernel.debugger", "IPython",
    "IPython.core.interactiveshell", "IPython.core.completer", "comm", "ipywidgets",
    "jupyter_client.session",
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LAUNCHER_MODULES = ("ipykernel_launcher", "ipykernel")

log = logging.getLogger("advexplore.kernel_fork")


# --------------------------------------------------------------------------- what to preload
def notebook_imports(notebook: Path) -> list[str]:
    """Every module a notebook's code cells import (`import a.b`, `from a.b import c`), in order,
    without running any of its code. Relative imports and cells that do not parse (magics) are
    skipped."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
    return list(dict.fromkeys(found))


def preload_modules(notebooks: list[Path]) -> list[str]:
    """The template's import list: the kernel machinery, then every notebook's own imports."""
    modules = list(KERNEL_MODULES)
    for nb in notebooks:
        modules += notebook_imports(nb)
    return list(dict.fromkeys(modules))


# --------------------------------------------------------------------------- the template process
def return_large_blocks_to_the_os() -> None:
    """Keep blocks of 1 MiB and more mmapped (glibc): big, short-lived buffers (the JSON of a
    figure widget's state carries ~5 MB of plotly.js) go back to the system when freed instead
    of staying in the heap for the whole lecture. glibc otherwise raises its mmap threshold
    after such a block is freed. Affects only the calling process (and its later forks)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------- the server's side
class Template:
    """The server's handle on the template process: start it, fork kernels from it, stop it."""

    def __init__(self, modules: list[str], scout: list[Path] = (), ready_timeout: float = 400.0,
                 scout_timeout: float = 120.0):
        self.modules = list(modules)
        self.scout = [str(Path(nb).resolve()) for nb in scout]
        self.scout_timeout = scout_timeout
        self.ready_timeout = ready_timeout
        self.dir = tempfile.mkdtemp(prefix="advexplore-kernels-")
        self.socket_path = os.path.join(self.dir, "template.sock")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Template":
        env = dict(os.environ)
        for var in THREAD_VARIABLES:
            env.setdefault(var, "1")
        if any(env[var] != "1" for var in THREAD_VARIABLES):
            log.warning("kernel threads > 1: forked kernels need single-threaded BLAS in the template; "
                        "the template sets 1 and each kernel calls torch.set_num_threads(OMP_NUM_THREADS)")
            env.update({var: "1" for var in THREAD_VARIABLES})
        scout = [arg for nb in self.scout for arg in ("--scout", nb)]
        self.process = subprocess.Popen([sys.executable, "-Xfrozen_modules=off", "-m", "advexplore.app.kernel_template",
                                         self.socket_path, *self.modules, *scout,
                                         f"--scout-timeout={self.scout_timeout}"],
                                        env=env, stdin=subprocess.DEVNULL)
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def state(self) -> str:
        """"ready" (forking), "starting" (importing), or "failed" (kernels start the normal way)."""
        if not self.alive:
            return "failed"
        return "ready" if os.path.exists(self.socket_path) else "starting"

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while not os.path.exists(self.socket_path):
            if not self.alive:
                raise RuntimeError("the kernel template exited "
                                   f"(code {None if self.process is None else self.process.returncode})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel template was not ready within {self.ready_timeout:.0f} s")
            await asyncio.sleep(0.1)

    async def fork(self, args: list[str], env: dict, cwd: str | None) -> int:
        await self.wait_ready()
        reader, writer = await asyncio.open_unix_connection(self.socket_path)
        try:
            writer.write(json.dumps({"args": args, "env": env, "cwd": cwd}).encode() + b"\n")
            await writer.drain()
            reply = json.loads(await asyncio.wait_for(reader.readline(), timeout=60))
        finally:
            writer.close()
        if "pid" not in reply:
            raise RuntimeError(reply.get("error", "no pid in the template's reply"))
        return int(reply["pid"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for path in (self.socket_path, self.socket_path + ".tmp"):
            if os.path.exists(path):
                os.unlink(path)
        try:
            os.rmdir(self.dir)
        except OSError:
            pass


def forkable_args(cmd: list[str]) -> list[str] | None:
    """The kernel's own arguments (after `-m ipykernel_launcher`) if `cmd` starts an ipykernel with
    this very interpreter; None if it must be launched normally."""
    if len(cmd) < 3 or os.path.realpath(cmd[0]) != os.path.realpath(sys.executable):
        return None
    i = 1
    while i < len(cmd) and cmd[i].startswith("-X"):
        i += 1 if cmd[i] != "-X" else 2
    if i + 1 < len(cmd) and cmd[i] == "-m" and cmd[i + 1] in LAUNCHER_MODULES:
        return cmd[i + 2:]
    return None


class ForkedProcess:
    """Enough of subprocess.Popen for jupyter_client's LocalProvisioner: a kernel that is a
    child of the template, not of the server (the template reaps it; exit codes are not known)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        import psutil

        self.pid = pid
        self.returncode: int | None = None
        try:
            self._process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            self._process, self.returncode = None, 0

    def poll(self) -> int | None:
        if self.returncode is None:
            import psutil

            try:
                if self._process.status() == psutil.STATUS_ZOMBIE:
                    self.returncode = 0
            except psutil.NoSuchProcess:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            self._process.send_signal(signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
