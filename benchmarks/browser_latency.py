"""What a user feels: time from a slider key press to the plotly figure redrawing, in JupyterLab
in headless Chromium (Debian's /usr/bin/chromium, Playwright from pip).

    python benchmarks/browser_latency.py [--moves 20] [--notebooks 01 06]

For each notebook a JupyterLab server is started on 127.0.0.1 over a temporary copy of
notebooks/ (06 with n = 100, train_steps = 30, as the browser tests use it), the notebook is run,
and each slider (01: ε, ξ, d; 06: ε, ξ, width) gets --moves key presses, alternating ArrowRight
and ArrowLeft. A press counts as answered when the first figure of the page has redrawn
(plotly's `plotly_afterplot` event) and its trace data differs from before. Prints one line per
notebook and slider: `<notebook> <slider> p50 <ms> p95 <ms>`. Goals (p95, 2 cores): 01 ε ≤ 150 ms,
06 ε ≤ 300 ms, 06 width ≤ 1500 ms. Timings include Playwright's round trip (a few ms); take them
on a quiet machine — other jobs on 2 cores make them several times slower.
"""
from __future__ import annotations

import argparse
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SLIDERS = {"01_linear_adversarial_risk": ("ε", "ξ", "d"), "06_adversarial_vs_regularized": ("ε", "ξ", "width")}
SMALLER = {"06_adversarial_vs_regularized": "n = 100\ntrain_steps = 30"}
# Count redraws of every plotly figure in the page; the data of all figures as one string.
HOOK_JS = """() => { window.__redraws = window.__redraws || 0;
  document.querySelectorAll('.js-plotly-plot').forEach(el => { if (!el.__hooked) {
    el.__hooked = true; el.on('plotly_afterplot', () => { window.__redraws += 1; }); } });
  return window.__redraws; }"""
DATA_JS = """() => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).map(
  el => (el.data || []).map(t => [t.y, t.z])), (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))"""
RUN_DONE_JS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const busy = Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('*'));
  return !!k && !busy && k.status === 'idle'; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root: Path, port: int, token: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True", "--allow-root"]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("JupyterLab did not start within 90 s")


def copy_notebooks(target: Path) -> None:
    import nbformat

    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "gpu"))
    for stem, extra in SMALLER.items():
        nb = nbformat.read(str(target / f"{stem}.ipynb"), as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source += "\n# browser latency benchmark: smaller sizes\n" + extra
        nbformat.write(nb, str(target / f"{stem}.ipynb"))


def slider_latencies(page, label: str, moves: int, timeout_ms: int = 60_000) -> list[float]:
    slider = page.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))).first
    slider.wait_for(state="visible", timeout=30_000)
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    times = []
    for k in range(moves):
        handle.focus()
        page.evaluate(HOOK_JS)
        before_count, before_data = page.evaluate("() => window.__redraws"), page.evaluate(DATA_JS)
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
        page.wait_for_function("([n, d]) => window.__redraws > n && (" + DATA_JS + ")() !== d",
                               arg=[before_count, before_data], timeout=timeout_ms, polling="raf")
        times.append(1000 * (time.perf_counter() - start))
        time.sleep(0.3)  # let every figure of the update settle before the next press
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20, help="key presses per slider")
    parser.add_argument("--notebooks", nargs="*", default=["01", "06"], help="number prefixes: 01, 06")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        root = Path(tmp) / "notebooks"
        copy_notebooks(root)
        port, token = free_port(), secrets.token_hex(16)
        lab = start_lab(root, port, token)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--disable-gpu"])
        try:
            for stem, labels in SLIDERS.items():
                if not any(stem.startswith(prefix) for prefix in args.notebooks):
                    continue
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{stem}.ipynb?reset&token={token}")
                page.wait_for_function(RUN_DONE_JS, timeout=120_000)
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                time.sleep(2.0)
                page.wait_for_function(RUN_DONE_JS, timeout=300_000)
                page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length > 0",
                                       timeout=60_000)
                time.sleep(2.0)
                for label in labels:
                    ms = slider_latencies(page, label, args.moves)
                    p95 = statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else ms[0]
                    print(f"{stem[:2]} {label} p50 {statistics.median(ms):.0f} p95 {p95:.0f}", flush=True)
                page.close()
        finally:
            browser.close()
            lab.terminate()
            try:
                lab.wait(timeout=15)
            except subprocess.TimeoutExpired:
                lab.kill()


if __name__ == "__main__":
    main()
