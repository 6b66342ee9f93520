"""Kernels forked from one warm process: the classroom's memory and start-up saver.

A normal Jupyter kernel is a fresh `python -m ipykernel_launcher`: every student's page pays
the interpreter start and the imports of torch, plotly, ipywidgets and advexplore again
(≈ 10 s of CPU and ≈ 0.2 GiB of private memory per page on the 2-core test machine).
Here one *template* process (started once per server) imports what the notebook imports and
then waits; each kernel is an `os.fork()` of it. The child shares the template's memory
copy-on-write (torch's code and data are never copied), so a page costs only what its own
notebook computes, and starts in well under a second.

    server (Voilà)  --unix socket-->  template: `python -m advexplore.app.kernel_fork SOCKET MODULE...`
                                          `-- fork() -> ipykernel (one per page)

The kernel command of the kernelspec must be `<this interpreter> [-X...] -m ipykernel_launcher
...`; anything else (another interpreter, another kernel) is launched the normal way, as is every
kernel when the template cannot start. The template runs single-threaded (the server starts it
with OMP/OpenBLAS/MKL threads = 1; it refuses to fork otherwise) and never executes user code.
"""
from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import signal
import socket
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
def _die_with_parent() -> None:
    """Linux: get SIGTERM when the process that started us dies (no orphaned templates)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the kernels' own parent poller still ends them
        pass


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


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _reseed() -> None:
    """A forked child inherits the template's random state; give each kernel its own, as a
    freshly started interpreter would have."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


def _run_kernel(request: dict) -> None:
    """In the forked child: become the kernel the server asked for. Never returns."""
    code = 1
    try:
        os.setsid()  # own process group: the server interrupts/kills it with killpg
        _die_with_parent()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own subprocesses
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the template: the kernel exits if it dies
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads and threads.isdigit() and "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(threads))
        _reseed()
        import gc

        gc.enable()
        # IPKernelApp reads JPY_PARENT_PID when it is imported (in the template): pass it explicitly
        args = [*request["args"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = ["ipykernel_launcher", *args]
        if sys.path and sys.path[0] in ("", os.getcwd()):
            del sys.path[0]  # as ipykernel_launcher does; IPython adds the cwd back
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _code_cells(notebook: str) -> list[str]:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return ["\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for c in nb.cells if c.cell_type == "code"]


def _scout(notebooks: list[str], timeout: float) -> list[str]:
    """The modules a notebook imports only when it runs (lazily, inside libraries: sympy on
    torch's first broadcast, plotly's validators on the first figure, …). A forked child runs
    the notebooks' code cells once, output discarded, and reports the modules it ended up with;
    the template then imports them too. The template itself never runs notebook code."""
    if not notebooks:
        return []
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the scout
        os.close(read_end)
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            before = set(sys.modules)
            for notebook in notebooks:
                os.chdir(os.path.dirname(os.path.abspath(notebook)))
                namespace = {"__name__": "__main__", "display": lambda *a, **k: None}
                for source in _code_cells(notebook):
                    try:
                        exec(compile(source, notebook, "exec"), namespace)
                    except BaseException:
                        pass
                    found = sorted(m for m in set(sys.modules) - before if not m.startswith("__"))
                    os.write(write_end, (json.dumps(found) + "\n").encode())
        finally:
            os._exit(0)
    os.close(write_end)
    found: list[str] = []
    deadline = time.monotonic() + timeout
    import select

    with os.fdopen(read_end, "rb") as pipe:
        buffer = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if lines:
                found = json.loads(lines[-1])
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
    return found


def serve(socket_path: str, modules: list[str], scout: list[str] = (), scout_timeout: float = 120.0) -> None:
    """The template's main loop: import `modules` (and what a run of the `scout` notebooks
    imports), then fork one kernel per request."""
    _die_with_parent()
    if os.environ.get("ADVEXPLORE_KERNEL_MMAP_THRESHOLD", "1") != "0":
        return_large_blocks_to_the_os()  # inherited by every forked kernel
    started = time.perf_counter()
    failed = []
    for name in modules:
        try:
            __import__(name)
        except Exception as exc:  # a notebook may import what is not installed: its kernel will say so
            failed.append(f"{name} ({type(exc).__name__})")
    lazy = [m for m in _scout(list(scout), scout_timeout) if m not in sys.modules]
    for name in lazy:
        try:
            __import__(name)
        except Exception:
            pass  # a module that only imports in a particular state; the kernel imports it if needed
    modules = list(modules) + lazy
    threads = _thread_count()
    if threads != 1:
        # fork() copies only this thread; a thread pool (OpenMP/BLAS) left behind can hang a child
        print(f"[advexplore.kernel_fork] {threads} threads after the imports (set OMP_NUM_THREADS=1, "
              "OPENBLAS_NUM_THREADS=1): not forking kernels", file=sys.stderr, flush=True)
        sys.exit(3)
    import gc

    gc.collect()
    gc.freeze()  # imported objects stay out of the children's collections: their pages stay shared
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the OS
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = socket_path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    server.bind(tmp)
    server.listen(64)
    os.rename(tmp, socket_path)  # the socket appears only when the template is ready
    print(f"[advexplore.kernel_fork] template ready in {time.perf_counter() - started:.1f} s "
          f"({len(modules) - len(failed)} modules{'; not importable: ' + ', '.join(failed) if failed else ''})",
          file=sys.stderr, flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            try:
                request = json.loads(conn.makefile("rb").readline())
            except Exception as exc:
                conn.sendall(json.dumps({"error": f"bad request: {exc}"}).encode() + b"\n")
                continue
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                _run_kernel(request)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


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
        self.process = subprocess.Popen([sys.executable, "-Xfrozen_modules=off", "-m", "advexplore.app.kernel_fork",
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m advexplore.app.kernel_fork",
                                     description="the template process of advexplore's forked kernels")
    parser.add_argument("socket")
    parser.add_argument("modules", nargs="*")
    parser.add_argument("--scout", action="append", default=[], metavar="NOTEBOOK",
                        help="run this notebook once in a throwaway child and preload what it imports")
    parser.add_argument("--scout-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    serve(args.socket, args.modules, args.scout, args.scout_timeout)


if __name__ == "__main__":
    main()
