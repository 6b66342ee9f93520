"""A lecture hall on one machine: N students open a notebook's teaching page at once.

Starts `advexplore teach NOTEBOOK` on a free 127.0.0.1 port (with a token), waits until its
kernel template is ready (the teacher starts the server before class), then opens N student
pages together in one headless Chromium (one browser context each, like N laptops) and
measures, for each N:

* time to the first figure (p50/p95/max): from the page request to a plotly figure with data;
* peak memory of the server's process tree (server + kernel template + kernels), both as the
  sum of RSS (counts memory shared by forked kernels once per process: an upper bound) and as
  the sum of PSS (shared pages split among the processes that share them: what the machine
  really spends);
* slider latency under load: every page presses an arrow key on its ε slider every 2 s for
  `--slider-seconds`; latency is the time (in the page) from just before the key press to the
  plotly data changing (p50/p95);
* kernels left after the pages close: even pages navigate away (the unload beacon ends their
  kernel), odd pages are closed abruptly (the culler must end theirs); the server's kernel list
  and process tree are polled until both are empty or `--leave-deadline` s have passed;
* dead pages (no figure, or no slider move ever reached the figure), errors in the browser
  console, and requests to any host other than the server.

    python benchmarks/classroom_load.py --students 1 10 30 --notebook 01
    python benchmarks/classroom_load.py --students 4 --notebook 06 --teach-args "--no-fork"
    python benchmarks/classroom_load.py --students 10 --json runs/class-10.json

Everything it starts is killed when it ends (normally, on error, on Ctrl-C or on --timeout).
Needs Playwright (pip) and Debian's /usr/bin/chromium; run it on a quiet machine: the browser
pages run on the same cores as the server.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-gpu", "--disable-renderer-backgrounding",
                 "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]
FIGURE_JS = ("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
             ".some(el => Array.isArray(el.data) && el.data.length > 0)")
# A cheap signature of every figure's data (length, first, middle and last of x, y, z of each
# trace), polled every 4 ms after a key press until it changes.
TRACKER_JS = """() => {
  const pick = a => (a && a.length !== undefined && typeof a !== 'string')
      ? [a.length, a[0], a[a.length >> 1], a[a.length - 1]] : a;
  const sig = () => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).map(
      el => (el.data || []).map(t => [pick(t.x), pick(t.y), pick(t.z)])),
      (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v));
  window.__advArm = () => {
    const before = sig(), t0 = performance.now();
    window.__advLatency = null;
    const tick = () => {
      if (sig() !== before) { window.__advLatency = performance.now() - t0; return; }
      if (performance.now() - t0 < 20000) setTimeout(tick, 4); else window.__advLatency = -1;
    };
    setTimeout(tick, 4);
  };
}"""
EPS_LABEL = re.compile(r"^\s*ε")


@dataclass
class Student:
    index: int
    html_s: float | None = None
    first_figure_s: float | None = None
    dead: str = ""
    slider_ms: list[float] = field(default_factory=list)
    slider_misses: int = 0
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)


@dataclass
class ClassResult:
    notebook: str
    students: int
    teach_args: str
    server_ready_s: float = 0.0
    template: str = ""
    html_p50_s: float | None = None  # page HTML complete (without --progressive: the notebook has run)
    html_p95_s: float | None = None
    first_figure_p50_s: float | None = None
    first_figure_p95_s: float | None = None
    first_figure_max_s: float | None = None
    dead_pages: int = 0
    peak_rss_gib: float = 0.0
    peak_pss_gib: float = 0.0
    idle_pss_gib: float = 0.0      # server + template before the first student
    slider_p50_ms: float | None = None
    slider_p95_ms: float | None = None
    slider_moves: int = 0
    slider_misses: int = 0
    kernels_at_close: int = 0
    kernels_left: int = -1         # after --leave-deadline (API and process tree, the larger)
    kernels_gone_after_s: float | None = None
    pooled_kernels: int = 0        # --pool: pre-heated kernels waiting for students (not leaks)
    cpu_before_s: float = 0.0      # CPU seconds of the server tree before the students (start-up)
    cpu_per_student_s: float | None = None  # server-side CPU seconds per student until the pages close
    browser_cpu_per_student_s: float | None = None  # the headless browsers' CPU seconds per page (same cores!)
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    cpu_count: int = os.cpu_count() or 0
    load_before: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.dead_pages and self.kernels_left == 0 and not self.console_errors and not self.foreign_requests


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the server
class Server:
    """`advexplore teach` on 127.0.0.1: started, watched (memory, kernels) and always killed."""

    def __init__(self, notebook: str, directory: Path, teach_args: list[str], log_path: Path | None):
        import psutil

        self.psutil = psutil
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "advexplore.app", "--dir", str(directory), "teach", notebook,
               "--port", str(self.port), "--token", self.token, "--no-browser", *teach_args]
        self.log = open(log_path, "w") if log_path else subprocess.DEVNULL
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.known: dict[int, object] = {}  # every process ever seen in the tree, for the final kill
        self.peak_rss = self.peak_pss = 0
        self.cpu_seconds: dict[int, float] = {}
        self._sampling = False

    # -- process tree --------------------------------------------------------------------------
    def tree(self) -> list:
        try:
            root = self.psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except self.psutil.NoSuchProcess:
            procs = []
        for p in procs:
            self.known.setdefault(p.pid, p)
        return procs

    def kernel_processes(self) -> list:
        """Processes of the tree that are kernels: not the server, not the kernel template."""
        out = []
        for p in self.tree():
            if p.pid == self.proc.pid:
                continue
            try:
                is_template = p.ppid() == self.proc.pid and "advexplore.app.kernel_template" in " ".join(p.cmdline())
            except self.psutil.Error:
                continue
            if not is_template:
                out.append(p)
        return out

    def memory(self) -> tuple[int, int]:
        rss = pss = 0
        for p in self.tree():
            try:
                m = p.memory_full_info()
                rss, pss = rss + m.rss, pss + getattr(m, "pss", m.rss)
                t = p.cpu_times()
                self.cpu_seconds[p.pid] = t.user + t.system
            except self.psutil.Error:
                pass
        return rss, pss

    def cpu_total(self) -> float:
        """CPU seconds used by the tree so far (processes that ended count with their last sample)."""
        self.memory()
        return sum(self.cpu_seconds.values())

    def start_sampling(self, every: float = 1.0) -> None:
        self._sampling = True

        def loop():
            while self._sampling:
                rss, pss = self.memory()
                self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
                time.sleep(every)

        threading.Thread(target=loop, daemon=True).start()

    def stop_sampling(self) -> None:
        self._sampling = False

    # -- API -------------------------------------------------------------------------------------
    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.base}/advexplore/api/status?token={self.token}", timeout=10) as r:
            return json.load(r)

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        state = "down"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"advexplore teach exited with code {self.proc.returncode}")
            try:
                state = self.status()["template"]
                if state in ("ready", "off", "failed"):
                    return state
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not ready within {timeout:.0f} s (template: {state})")

    def kill(self) -> None:
        """SIGTERM the server (Voilà shuts its kernels down), then SIGKILL whatever of its tree
        (template, kernels, their children) is still there."""
        self.stop_sampling()
        self.tree()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        for p in list(self.known.values()):
            try:
                if p.is_running():
                    p.kill()
            except self.psutil.Error:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.log is not subprocess.DEVNULL:
            self.log.close()


# --------------------------------------------------------------------------- the students
async def open_page(student: Student, browser, server: Server, page_timeout: float):
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    origin = server.base

    def on_console(msg):
        if msg.type == "error":
            student.console_errors.append(f"page {student.index}: {msg.text[:300]}")

    def on_request(request):
        url = request.url
        if not (url.startswith(origin + "/") or url == origin or url.startswith(("blob:" + origin, "data:", "about:"))):
            student.foreign_requests.append(url[:200])

    page.on("console", on_console)
    page.on("pageerror", lambda e: student.console_errors.append(f"page {student.index}: pageerror {e}"[:400]))
    page.on("request", on_request)
    start = time.perf_counter()
    try:
        await page.goto(f"{origin}/?token={server.token}", timeout=page_timeout * 1000, wait_until="domcontentloaded")
        student.html_s = time.perf_counter() - start
        remaining = max(1.0, page_timeout - (time.perf_counter() - start))
        await page.wait_for_function(FIGURE_JS, timeout=remaining * 1000, polling=50)
        student.first_figure_s = time.perf_counter() - start
    except Exception as exc:  # timeouts and navigation errors: a dead page
        student.dead = f"page {student.index}: no figure within {page_timeout:.0f} s ({type(exc).__name__})"
    return context, page


async def move_sliders(student: Student, page, seconds: float, period: float, phase: float) -> None:
    if student.dead:
        return
    try:
        await page.evaluate(TRACKER_JS)
        slider = page.locator(".widget-slider").filter(
            has=page.locator(".widget-label", has_text=EPS_LABEL)).first
        handle = slider.locator(".noUi-handle").first
        await handle.wait_for(state="visible", timeout=30_000)
    except Exception as exc:
        student.dead = f"page {student.index}: no ε slider ({type(exc).__name__})"
        return
    await asyncio.sleep(phase)
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        t = time.monotonic()
        key = "ArrowRight" if k % 2 == 0 else "ArrowLeft"  # stays inside the slider's range
        k += 1
        try:
            await handle.focus()
            await page.evaluate("() => window.__advArm()")
            await handle.press(key)
            await page.wait_for_function("() => window.__advLatency !== null", timeout=25_000, polling=20)
            latency = await page.evaluate("() => window.__advLatency")
        except Exception:
            latency = -1
        if latency is None or latency < 0:
            student.slider_misses += 1
        else:
            student.slider_ms.append(float(latency))
        await asyncio.sleep(max(0.0, period - (time.monotonic() - t)))
    if not student.slider_ms:
        student.dead = f"page {student.index}: no slider move reached the figure"


def _browser_cpu(server: Server) -> float:
    """CPU seconds of this benchmark's browser processes (Playwright's Chromium), pages still open."""
    import psutil

    server_pids = {p.pid for p in server.tree()}
    total = 0.0
    for p in psutil.Process().children(recursive=True):
        if p.pid in server_pids:
            continue
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def run_students(server: Server, n: int, page_timeout: float, slider_seconds: float,
                       slider_period: float, leave_deadline: float, result: ClassResult) -> list[Student]:
    from playwright.async_api import async_playwright

    students = [Student(i) for i in range(n)]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            opened = await asyncio.gather(*(open_page(s, browser, server, page_timeout) for s in students))
            if slider_seconds > 0:
                await asyncio.gather(*(move_sliders(s, page, slider_seconds, slider_period,
                                                    slider_period * s.index / max(n, 1))
                                       for s, (_, page) in zip(students, opened)))
            result.browser_cpu_per_student_s = round(_browser_cpu(server) / max(n, 1), 1)
            result.kernels_at_close = sum(1 for k in server.status()["kernels"] if not k.get("pooled"))
            result.cpu_per_student_s = round((server.cpu_total() - result.cpu_before_s) / max(n, 1), 1)
            # leave: even pages navigate away (unload -> Voilà's shutdown beacon), odd ones are
            # closed without unload handlers (a crashed or killed browser: the culler's case)
            for i, (context, page) in enumerate(opened):
                try:
                    if i % 2 == 0:
                        await page.goto("about:blank", timeout=15_000)
                        await asyncio.sleep(0.2)
                    await context.close()
                except Exception:
                    pass
        finally:
            await browser.close()
    closed = time.monotonic()
    while True:
        kernels = server.status()["kernels"]
        pooled = sum(1 for k in kernels if k.get("pooled"))  # --pool: waiting for the next student
        result.pooled_kernels = pooled
        procs = len(server.kernel_processes()) - pooled
        result.kernels_left = max(len(kernels) - pooled, procs)
        if result.kernels_left == 0:
            result.kernels_gone_after_s = round(time.monotonic() - closed, 1)
            break
        if time.monotonic() - closed > leave_deadline:
            break
        await asyncio.sleep(1.0)
    return students


def run_class(notebook: str, n: int, *, directory: Path = ROOT / "notebooks", teach_args: list[str] = (),
              page_timeout: float = 300, slider_seconds: float = 30, slider_period: float = 2.0,
              leave_deadline: float = 75, ready_timeout: float = 600, timeout: float = 1800,
              log_path: Path | None = None) -> ClassResult:
    """One class of `n` students on `notebook`; the server is killed before this returns."""
    result = ClassResult(notebook=notebook, students=n, teach_args=" ".join(teach_args))
    result.load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else 0.0
    server = Server(notebook, directory, list(teach_args), log_path)
    try:
        started = time.monotonic()
        result.template = server.wait_ready(ready_timeout)
        result.server_ready_s = round(time.monotonic() - started, 1)
        result.idle_pss_gib = round(server.memory()[1] / 2**30, 3)
        result.cpu_before_s = round(server.cpu_total(), 1)
        server.start_sampling(every=0.5)
        students = asyncio.run(asyncio.wait_for(
            run_students(server, n, page_timeout, slider_seconds, slider_period, leave_deadline, result),
            timeout=timeout))
    finally:
        server.kill()
    firsts = [s.first_figure_s for s in students if s.first_figure_s is not None]
    htmls = [s.html_s for s in students if s.html_s is not None]
    result.html_p50_s, result.html_p95_s = _round(percentile(htmls, 50)), _round(percentile(htmls, 95))
    moves = [ms for s in students for ms in s.slider_ms]
    result.first_figure_p50_s = _round(percentile(firsts, 50))
    result.first_figure_p95_s = _round(percentile(firsts, 95))
    result.first_figure_max_s = _round(max(firsts) if firsts else None)
    result.dead = [s.dead for s in students if s.dead]
    result.dead_pages = len(result.dead)
    result.peak_rss_gib = round(server.peak_rss / 2**30, 3)
    result.peak_pss_gib = round(server.peak_pss / 2**30, 3)
    result.slider_p50_ms = _round(percentile(moves, 50), 0)
    result.slider_p95_ms = _round(percentile(moves, 95), 0)
    result.slider_moves = len(moves)
    result.slider_misses = sum(s.slider_misses for s in students)
    result.console_errors = [e for s in students for e in s.console_errors]
    result.foreign_requests = sorted({r for s in students for r in s.foreign_requests})
    return result


def _round(x, digits=1):
    return None if x is None else round(x, digits)


def format_row(r: ClassResult) -> str:
    def f(x, unit=""):
        return "-" if x is None else f"{x}{unit}"
    return (f"{r.students:>4} {f(r.html_p95_s):>8} {f(r.first_figure_p50_s):>8} {f(r.first_figure_p95_s):>8} {f(r.first_figure_max_s):>8} "
            f"{r.dead_pages:>5} {r.peak_rss_gib:>8.2f} {r.peak_pss_gib:>8.2f} {f(r.cpu_per_student_s):>7} {f(r.browser_cpu_per_student_s):>7} "
            f"{f(r.slider_p50_ms):>8} "
            f"{f(r.slider_p95_ms):>8} {r.slider_moves:>6} {r.kernels_at_close:>6} {r.kernels_left:>5} "
            f"{f(r.kernels_gone_after_s):>7} {len(r.console_errors):>6} {len(r.foreign_requests):>8}")


HEADER = (f"{'N':>4} {'html p95':>8} {'fig p50':>8} {'fig p95':>8} {'fig max':>8} {'dead':>5} {'RSS GiB':>8} {'PSS GiB':>8} {'CPU s/st':>7} {'brw s/st':>7} "
          f"{'sld p50':>8} {'sld p95':>8} {'moves':>6} {'kern@':>6} {'left':>5} {'gone s':>7} {'errors':>6} "
          f"{'foreign':>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--students", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--notebook", default="01", help="number prefix, stem or path (as advexplore teach)")
    parser.add_argument("--dir", default=str(ROOT / "notebooks"), help="notebook folder")
    parser.add_argument("--teach-args", default="", help='extra options of advexplore teach, e.g. "--pool 4"')
    parser.add_argument("--slider-seconds", type=float, default=30.0, help="slider phase per class (0: none)")
    parser.add_argument("--slider-period", type=float, default=2.0, help="seconds between two key presses per page")
    parser.add_argument("--page-timeout", type=float, default=300.0, help="a page without a figure by then is dead")
    parser.add_argument("--leave-deadline", type=float, default=75.0,
                        help="seconds after the pages close by which every kernel must be gone")
    parser.add_argument("--timeout", type=float, default=1800.0, help="hard limit per class (s)")
    parser.add_argument("--json", default=None, help="also write the results (list of dicts) here")
    parser.add_argument("--log-dir", default=None, help="keep each server's log here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        parser.exit(2, f"{CHROMIUM} is absent (apt-get install chromium)\n")
    results = []
    print(f"notebook {args.notebook}, teach args {args.teach_args!r}, {os.cpu_count()} CPUs", flush=True)
    print(HEADER, flush=True)
    for n in args.students:
        log = Path(args.log_dir) / f"teach-{args.notebook}-{n}.log" if args.log_dir else None
        if log:
            log.parent.mkdir(parents=True, exist_ok=True)
        r = run_class(args.notebook, n, directory=Path(args.dir), teach_args=shlex.split(args.teach_args),
                      page_timeout=args.page_timeout, slider_seconds=args.slider_seconds,
                      slider_period=args.slider_period, leave_deadline=args.leave_deadline,
                      timeout=args.timeout, log_path=log)
        results.append(r)
        print(format_row(r), flush=True)
        for line in (r.dead + r.console_errors + r.foreign_requests)[:10]:
            print("      ", line, flush=True)
    print("\nhtml: seconds until the page's HTML is complete (Voilà has run the notebook, unless "
          "--progressive); fig: seconds from the page request to the first figure; RSS/PSS: peak of the server's process "
          "tree (RSS counts pages shared by forked kernels in every process, PSS splits them); sld: ms from "
          "a key press on the ε slider to the figure's data changing; kern@: kernels when the pages close; "
          "left: kernels still alive --leave-deadline s later; gone s: when the last one went.")
    if args.json:
        Path(args.json).write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
