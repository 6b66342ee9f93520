"""HTTP handlers of `advexplore teach` (advexplore.app.teach_server): the kernel list and status
API for tests, the load benchmark and a teacher's curl, and Voilà page handlers that set the
`_xsrf` cookie so a closed tab's shutdown beacon is accepted. Loaded by file path like
kernel_fork.py when the server runs as a script, so it imports nothing from advexplore."""
from __future__ import annotations

import inspect
import json
import os

from jupyter_server.base.handlers import APIHandler
from tornado import web


def _kernels(km) -> list[dict]:
    return km.kernels_report() if hasattr(km, "kernels_report") else [{"id": k} for k in km.list_kernel_ids()]


class KernelListHandler(APIHandler):
    """GET /advexplore/api/kernels: the server's kernels (JSON list)."""

    @web.authenticated
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(_kernels(self.settings["kernel_manager"])))


class StatusHandler(APIHandler):
    """GET /advexplore/api/status: {"template": ready|starting|failed|off, "pid": server pid,
    "kernels": [...]} — a load test waits for "ready" as a teacher starts the server before class."""

    @web.authenticated
    def get(self):
        km = self.settings["kernel_manager"]
        template = getattr(km, "template", None)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"template": "off" if template is None else template.state, "pid": os.getpid(),
                                "kernels": _kernels(km)}))


def sets_xsrf_cookie(handler_class):
    """A page handler that sets the `_xsrf` cookie: Voilà's front end posts the page's kernel
    shutdown (`voila/api/shutdown/<id>`) on unload with the cookie's value, and without the
    cookie the server answers 403 and the kernel lives on."""

    class PageHandler(handler_class):
        async def prepare(self, *args, **kwargs):
            result = super().prepare(*args, **kwargs)
            if inspect.isawaitable(result):
                await result
            if not self._finished:
                self.xsrf_token  # noqa: B018 (the property sets the cookie)

    PageHandler.__name__ = PageHandler.__qualname__ = handler_class.__name__
    return PageHandler
