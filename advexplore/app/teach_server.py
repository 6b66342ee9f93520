"""The server behind `advexplore teach`: Voilà 0.5, plus what a lecture hall needs (details and
measurements: docs/teaching.md). Run as `python advexplore/app/teach_server.py NOTEBOOK --port=…`
(as a file, so that the server does not import torch with the advexplore package). Over Voilà:

* **Kernels end when students leave** (`TeachKernelManager`): shut down `cull_idle_timeout` s after
  their page disconnected, `cull_unconnected_timeout` s if no page ever connected (a crawler, a
  reload), `cull_connected_timeout` s idle even with the page open (0: never), checked every
  `cull_interval` s; the pages set the `_xsrf` cookie so Voilà's unload beacon is accepted.
* **Kernels forked from a warm template** (`ForkingKernelManager`, kernel_fork.py).
* **No request leaves the machine**: the `advexplore` Voilà template (share/voila/templates).
* `GET /advexplore/api/kernels` and `/advexplore/api/status` (teach_handlers.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and not __package__ and sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # run as a file: do not make the modules next to this one importable top-level

import atexit
import importlib.util
import os
import uuid
from datetime import timedelta

from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager, ServerKernelManager
from jupyter_server.utils import url_path_join
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Integer, List, Unicode, default

def _sibling(name: str):
    """advexplore.app.<name>, or the file next to this one when run as a script: importing
    advexplore.app.* would run advexplore/__init__.py, i.e. import torch (~0.2 GiB) into a server
    that computes nothing (`advexplore teach` runs this file as a script)."""
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    spec = importlib.util.spec_from_file_location(f"advexplore_teach_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_kernel_fork, _handlers = _sibling("kernel_fork"), _sibling("teach_handlers")
ForkedProcess, Template = _kernel_fork.ForkedProcess, _kernel_fork.Template
forkable_args, preload_modules = _kernel_fork.forkable_args, _kernel_fork.preload_modules
return_large_blocks_to_the_os = _kernel_fork.return_large_blocks_to_the_os
KernelListHandler, StatusHandler = _handlers.KernelListHandler, _handlers.StatusHandler
sets_xsrf_cookie = _handlers.sets_xsrf_cookie

SHARE = Path(__file__).resolve().parent / "share"
TEMPLATE = "advexplore"


def _utcnow():
    from jupyter_server._tz import utcnow

    return utcnow()


# --------------------------------------------------------------------------- kernels
class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernel is forked from the server's warm template when it can be
    (same interpreter, `-m ipykernel_launcher`); otherwise launched as usual."""

    forked = False

    async def launch_kernel(self, cmd: list[str], **kwargs):
        template = getattr(getattr(self.parent, "parent", None), "template", None)
        args = forkable_args(cmd)
        if template is not None and template.alive and args is not None:
            env = dict(kwargs.get("env") or os.environ)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                pid = await template.fork(args, env, cwd)
            except Exception as exc:  # the template died or timed out: a normal kernel still works
                self.log.warning("advexplore: could not fork a kernel (%s); starting it normally", exc)
            else:
                self.process = ForkedProcess(pid)
                self.pid = self.pgid = pid  # the child calls setsid(): its own process group
                self.cwd = cwd
                self.forked = True
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)


class ForkingKernelManager(ServerKernelManager):
    """One kernel, provisioned by ForkProvisioner while the mapping manager has a template."""

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None and getattr(self.parent, "template", None) is not None:
            kernel_id = kw.pop("kernel_id", None)
            self.kernel_id = self.kernel_id or kernel_id or str(uuid.uuid4())
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


def _remove_refit_folder() -> None:
    """The refit queue's folder that `advexplore teach` made for this server (tickets, durations)."""
    import shutil
    import tempfile

    folder = os.environ.get("ADVEXPLORE_REFIT_DIR", "")
    if folder and Path(folder).name.startswith("advexplore-refits-") and \
            Path(folder).resolve().parent == Path(tempfile.gettempdir()).resolve():
        shutil.rmtree(folder, ignore_errors=True)


class TeachKernelManager(AsyncMappingKernelManager):
    """Kernels that end when their students leave, optionally forked from a warm template."""

    cull_idle_timeout = Integer(30, config=True, help="""Shut a kernel down this many seconds
        after its last activity once its page has disconnected (closed tab). 0: never.""")
    cull_interval = Integer(10, config=True, help="Seconds between two checks of the culler.")
    cull_unconnected_timeout = Integer(90, config=True, help="""Shut a kernel down this many seconds
        after its last activity if no page ever connected to it (a fetch without JavaScript, a
        crawler, an aborted load). 0: never.""")
    cull_connected_timeout = Integer(0, config=True, help="""Also shut down kernels whose page is
        still open after this many idle seconds (a student who left the tab open). 0: never.""")
    fork_kernels = Bool(True, config=True, help="Fork kernels from a warm template process (POSIX).")
    preload = List(Unicode(), config=True, help="""Modules the template imports, on top of the
        kernel machinery and the imports of the served notebook(s).""")
    scout_notebooks = Bool(True, config=True, help="""Run the served notebook once in a throwaway child
        of the template at start-up and preload what it imports lazily (sympy, plotly's
        validators…). Not done when a folder is served.""")
    preload_notebooks = List(Unicode(), config=True, help="""Notebooks whose imports the template
        preloads (default: the served notebook, or every notebook of the served folder).""")

    @default("kernel_manager_class")
    def _default_kernel_manager_class(self):
        return f"{ForkingKernelManager.__module__}.{ForkingKernelManager.__name__}"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._ever_connected: set[str] = set()
        self.template: Template | None = None
        if self.fork_kernels and hasattr(os, "fork"):
            notebooks = [Path(p) for p in self.preload_notebooks] or self._served_notebooks()
            modules = preload_modules([nb for nb in notebooks if nb.exists()]) + list(self.preload)
            # one served notebook: run it once in a throwaway child to learn its lazy imports. A
            # folder: not (that would run every notebook of the course at start-up)
            serves_one = bool(getattr(self.parent, "notebook_path", None)) or bool(self.preload_notebooks)
            scout = [nb for nb in notebooks if nb.exists()] if self.scout_notebooks and serves_one else []
            self.template = Template(list(dict.fromkeys(modules)), scout=scout).start()
            atexit.register(self.template.stop)
            self.log.info("advexplore: kernels are forked from a template that preloads %d modules", len(modules))

    def _served_notebooks(self) -> list[Path]:
        app = self.parent
        notebook = getattr(app, "notebook_path", None)
        if notebook:
            return [Path(notebook)]
        root = getattr(app, "root_dir", None)
        return sorted(Path(root).glob("*.ipynb")) if root else []

    # -- connections: remember which kernels ever had a page ----------------------------------
    def notify_connect(self, kernel_id):
        super().notify_connect(kernel_id)
        self._ever_connected.add(kernel_id)

    async def shutdown_kernel(self, kernel_id, now=False, restart=False):
        result = await ensure_async(super().shutdown_kernel(kernel_id, now=now, restart=restart))
        if not restart:
            self._ever_connected.discard(kernel_id)
        return result

    async def shutdown_all(self, now=False):
        try:
            await ensure_async(super().shutdown_all(now=now))
        finally:
            if self.template is not None:
                self.template.stop()
            _remove_refit_folder()

    # -- culling -------------------------------------------------------------------------------
    def initialize_culler(self):
        """Start the culler if any of the three timeouts is on (jupyter_server looks only at
        cull_idle_timeout)."""
        timeouts = (self.cull_idle_timeout, self.cull_unconnected_timeout, self.cull_connected_timeout)
        if not self._initialized_culler and self._culler_callback is None and any(t > 0 for t in timeouts):
            if self.cull_interval <= 0:
                self.cull_interval = self.cull_interval_default
            self._culler_callback = PeriodicCallback(self.cull_kernels, 1000 * self.cull_interval)
            self.log.info("advexplore: culling kernels every %d s: closed pages after %d s idle, pages "
                          "never connected after %d s, open pages after %s", self.cull_interval,
                          self.cull_idle_timeout, self.cull_unconnected_timeout,
                          f"{self.cull_connected_timeout} s" if self.cull_connected_timeout > 0 else "never")
            self._culler_callback.start()
        self._initialized_culler = True

    def cull_timeout(self, kernel_id: str) -> int:
        """The idle seconds after which this kernel goes (0: it stays)."""
        if self._kernel_connections.get(kernel_id, 0) > 0:
            return self.cull_connected_timeout
        if kernel_id in self._ever_connected:
            return self.cull_idle_timeout
        return self.cull_unconnected_timeout

    async def cull_kernel_if_idle(self, kernel_id):
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        if getattr(kernel, "execution_state", None) == "dead":
            self.log.warning("advexplore: culling dead kernel %s", kernel_id)
            await ensure_async(self.shutdown_kernel(kernel_id))
            return
        if not hasattr(kernel, "last_activity"):
            return
        limit = self.cull_timeout(kernel_id)
        idle = (_utcnow() - kernel.last_activity).total_seconds()
        busy = getattr(kernel, "execution_state", None) == "busy" and not self.cull_busy
        if limit > 0 and idle > limit and not busy:
            connections = self._kernel_connections.get(kernel_id, 0)
            why = ("open page" if connections else
                   "closed page" if kernel_id in self._ever_connected else "page never connected")
            self.log.warning("advexplore: culling kernel %s (%s, %d s idle > %d s)", kernel_id, why, idle, limit)
            await ensure_async(self.shutdown_kernel(kernel_id))

    def pooled_ids(self) -> set[str]:
        """Kernels waiting in Voilà's pre-heated pool (--pool): not a student's, never culled."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                try:
                    if task.done() and not task.cancelled() and task.exception() is None:
                        ids.add(task.result()["kernel_id"])
                except Exception:
                    pass
        return ids

    def kernels_report(self) -> list[dict]:
        now = _utcnow()
        pooled = self.pooled_ids()
        out = []
        for kernel_id in list(self._kernels):
            kernel = self._kernels[kernel_id]
            provisioner = getattr(kernel, "provisioner", None)
            last = getattr(kernel, "last_activity", None)
            out.append({
                "id": kernel_id,
                "pid": getattr(provisioner, "pid", None),
                "forked": bool(getattr(provisioner, "forked", False)),
                "execution_state": getattr(kernel, "execution_state", None),
                "connections": self._kernel_connections.get(kernel_id, 0),
                "ever_connected": kernel_id in self._ever_connected,
                "pooled": kernel_id in pooled,
                "idle_seconds": None if last is None else round((now - last) / timedelta(seconds=1), 1),
                "cull_after_seconds": self.cull_timeout(kernel_id),
            })
        return out


def make_app_class():
    from voila.app import Voila
    from voila.handler import VoilaHandler

    class TeachVoila(Voila):
        """Voilà with the advexplore template, kernel manager and handlers as defaults."""

        def initialize(self, argv=None):
            paths = [str(SHARE), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
            os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
            if "ADVEXPLORE_REFIT_DIR" not in os.environ:  # the refit queue shared by this server's kernels
                import tempfile

                os.environ["ADVEXPLORE_REFIT_DIR"] = tempfile.mkdtemp(prefix="advexplore-refits-")
            super().initialize(argv)
            conf = self.config.get("VoilaConfiguration", {})
            if "multi_kernel_manager_class" not in conf:
                self.voila_configuration.multi_kernel_manager_class = TeachKernelManager

        def init_handlers(self):
            handlers = []
            for spec in super().init_handlers():
                pattern, cls, *rest = spec
                if isinstance(cls, type) and issubclass(cls, VoilaHandler):
                    cls = sets_xsrf_cookie(cls)
                handlers.append((pattern, cls, *rest))
            return [(url_path_join(self.server_url, "/advexplore/api/kernels"), KernelListHandler),
                    (url_path_join(self.server_url, "/advexplore/api/status"), StatusHandler), *handlers]

    return TeachVoila


def main(argv: list[str] | None = None) -> None:
    return_large_blocks_to_the_os()  # the server relays each page's widget state (MBs)
    make_app_class().launch_instance(argv=argv)


if __name__ == "__main__":
    main()
