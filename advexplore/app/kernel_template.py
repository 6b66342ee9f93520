"""The template process of advexplore's forked kernels (see advexplore.app.kernel_fork): it imports
what the notebooks import, then waits on a unix socket and forks one ipykernel per request.

    python -m advexplore.app.kernel_template SOCKET MODULE... [--scout NOTEBOOK]
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time

from .kernel_fork import return_large_blocks_to_the_os

log = logging.getLogger("advexplore.kernel_fork")


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the process that started us dies (no orphaned templates)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the kernels' own parent poller still ends them
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m advexplore.app.kernel_template",
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
