"""`advexplore teach`: the notebooks as Voilà apps (code hidden, widgets live), for a lecture hall.

The server is Voilà run through advexplore.app.teach_server: kernels end when students leave
(a closed tab at once, or after `--cull-idle` s; a page fetched but never connected after
`--cull-unconnected` s), kernels are forked from one warm process (`--no-fork` to start each
from scratch), and no request leaves the machine. It listens on 127.0.0.1 unless `--ip` says
otherwise, and then only with a token (`--token`), printing the URL to hand out.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER = Path(__file__).resolve().with_name("teach_server.py")  # run as a file: no torch in the server
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class TeachError(ValueError):
    """A teach option that must not be served (e.g. a room-wide address without a token)."""


@dataclass
class Classroom:
    """The classroom options of `advexplore teach` (defaults: a lecture hall on one machine)."""

    ip: str = "127.0.0.1"
    token: str | None = None
    cull_idle: int = 30          # s after its last activity, a closed page's kernel ends
    cull_unconnected: int = 90   # s: a page fetched but never connected (crawler, aborted load)
    cull_connected: int = 0      # s: also end open but idle pages (0: never)
    cull_interval: int = 10      # s between two culler passes
    fork: bool = True            # kernels forked from one warm process
    pool: int = 0                # Voilà's pre-heated, pre-executed kernels (0: off)
    progressive: bool | None = None  # Voilà's progressive rendering (outputs appear as cells
                                     # finish); None: on, unless a pool is asked for
    kernel_threads: int = 1      # torch/BLAS threads per kernel (many kernels share the cores)
    refit_slots: int = 0         # refits (training runs) at once across all pages (0: CPU count)


def is_loopback(ip: str) -> bool:
    if ip.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def check_listen_address(ip: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token: anyone on the network could
    otherwise run code in the teacher's kernels (a Voilà page executes the notebook)."""
    if not is_loopback(ip) and not token:
        raise TeachError(f"--ip {ip} makes the apps reachable from other machines; give a token "
                         "(--token SECRET, or --token random) so that only those with the URL get in")


def new_token() -> str:
    return secrets.token_urlsafe(9)


def handout_urls(ip: str, port: int, token: str | None) -> list[str]:
    """The URL(s) to give students: the address they can reach, the port and the token. For a
    wildcard address (0.0.0.0, ::) every non-loopback IPv4 address of this machine's interfaces
    (read locally, nothing is sent) and the host name."""
    query = f"?token={token}" if token else ""
    if ip in ("0.0.0.0", "", "::", "*"):
        hosts = []
        try:
            import psutil

            for addresses in psutil.net_if_addrs().values():
                hosts += [a.address for a in addresses
                          if a.family == socket.AF_INET and not ipaddress.ip_address(a.address).is_loopback]
        except Exception:
            pass
        hosts.append(socket.gethostname())
    else:
        hosts = [f"[{ip}]" if ":" in ip else ip]
    return [f"http://{host}:{port}/{query}" for host in dict.fromkeys(hosts)]


def voila_command(notebook: Path | None, port: int, directory: Path, token: str | None = None,
                  open_browser: bool = False, classroom: Classroom | None = None) -> list[str]:
    """The command line that serves one notebook (or the folder) as an app, code hidden: Voilà
    through advexplore.app.teach_server with the classroom's culling, kernels and template."""
    c = classroom or Classroom(token=token)
    token = token if token is not None else c.token
    check_listen_address(c.ip, token)
    cmd = [sys.executable, str(SERVER), str(notebook if notebook else directory),
           f"--port={port}", f"--Voila.ip={c.ip}", "--Voila.port_retries=0",
           "--strip_sources=True", "--theme=light", "--template=advexplore",
           # the server need not keep each page's widget state (~5 MB of plotly.js per figure)
           "--VoilaExecutor.store_widget_state=False",
           f"--TeachKernelManager.cull_idle_timeout={c.cull_idle}",
           f"--TeachKernelManager.cull_unconnected_timeout={c.cull_unconnected}",
           f"--TeachKernelManager.cull_connected_timeout={c.cull_connected}",
           f"--TeachKernelManager.cull_interval={c.cull_interval}",
           f"--TeachKernelManager.fork_kernels={c.fork}"]
    progressive = c.pool <= 0 if c.progressive is None else c.progressive
    if c.pool > 0 and progressive:
        raise TeachError("a pre-heated pool (--pool) and progressive rendering exclude each other (Voilà)")
    if c.pool > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={c.pool}"]
    cmd.append(f"--progressive_rendering={progressive}")
    if not open_browser:
        cmd.append("--no-browser")
    if token is not None:
        cmd.append(f"--token={token}")
    return cmd


def teach_environment(classroom: Classroom, base: dict | None = None) -> dict:
    """The server's (and so every kernel's) environment: one torch/BLAS thread per kernel
    (30 kernels on a few cores must not each start a thread per core), teaching mode on, and
    the folder of the refit queue shared by all pages (advexplore.widgets.refit_queue)."""
    env = dict(os.environ if base is None else base)
    threads = str(max(1, classroom.kernel_threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = threads
    env["ADVEXPLORE_TEACH"] = "1"
    env.setdefault("ADVEXPLORE_REFIT_DIR", tempfile.mkdtemp(prefix="advexplore-refits-"))
    if classroom.refit_slots > 0:
        env["ADVEXPLORE_REFIT_SLOTS"] = str(classroom.refit_slots)
    return env


def serve(cmd: list[str], env: dict, cwd: Path) -> int:
    """Become the server (exec: the command line's own imports do not stay resident for the
    whole lecture; signals reach Voilà, which shuts its kernels down). Where exec is not
    available, run it as a child and wait."""
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    if hasattr(os, "execve"):
        os.execve(cmd[0], cmd, env)
    return subprocess.call(cmd, env=env)  # pragma: no cover - not POSIX
