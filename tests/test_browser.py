"""Real-browser tests: what users touch works where they touch it.

JupyterLab (and Voilà, the teaching mode) is started on 127.0.0.1 with a random port and
token over a temporary copy of notebooks/; headless Debian Chromium, driven by Playwright
from pip, opens a notebook, runs all cells, moves the ε slider with the keyboard and checks
that the data of the plotly figures in the page changed. A screenshot of the live widgets
is saved in the test's tmp dir and copied to $ADVEXPLORE_SCREENSHOTS when that is set.

Skipped only when there is no browser (/usr/bin/chromium; `.ci/run` installs Debian's
`chromium`) or Playwright is not installed (the `browser` extra, part of `dev`).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-gpu"]
NB01 = "01_linear_adversarial_risk.ipynb"
NB06 = "06_adversarial_vs_regularized.ipynb"
BROWSER_PARAMETERS = {NB06: {"n": 100, "train_steps": 30}}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="no browser: /usr/bin/chromium is absent (apt-get install chromium; .ci/run does it)"),
]
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright is not installed (pip install -e .[browser])")

# Every plotly figure's trace data (y and z), typed arrays turned into lists, as one string.
PLOT_DATA_JS = """() => JSON.stringify(
  Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => (el.data || []).map(t => [t.y, t.z])),
  (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v))"""
PLOT_COUNT_JS = "() => document.querySelectorAll('.js-plotly-plot').length"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            if url.startswith("tcp://"):  # only wait for the port (a GET would execute a Voilà page)
                host, port = url.removeprefix("tcp://").split(":")
                socket.create_connection((host, int(port)), timeout=2).close()
                return
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"server did not answer {url} within {timeout} s")


@contextmanager
def _server(cmd: list[str], status_url: str, cwd: Path, log: Path):
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=fh, stderr=subprocess.STDOUT)
        try:
            _wait_http(status_url, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def notebook_dir(tmp_path):
    """A throwaway copy of notebooks/ (the server may write checkpoints and outputs)."""
    import nbformat

    target = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "gpu"))
    # Smaller sizes where the notebook's own defaults cost most of the test's time; the test
    # checks that the widgets live in the browser (the science is tested headless elsewhere).
    for name, params in BROWSER_PARAMETERS.items():
        nb = nbformat.read(str(target / name), as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        cell.source += "\n# browser test\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
        nbformat.write(nb, str(target / name))
    return target


@pytest.fixture
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.console_errors = []  # shown when a test fails: the front end's own account of it
        pg.on("console", lambda m: m.type in ("error", "warning") and pg.console_errors.append(f"{m.type}: {m.text}"))
        pg.on("pageerror", lambda e: pg.console_errors.append(f"pageerror: {e} {getattr(e, 'stack', '')}"))
        try:
            yield pg
        finally:
            browser.close()


def _save_screenshot(page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=False)
    target = os.environ.get("ADVEXPLORE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    return shot


def _move_eps_slider_and_check(page, tmp_path: Path, name: str) -> None:
    """Press End on the ε slider's handle; the plotly data in the page must change."""
    page.wait_for_function(f"{PLOT_COUNT_JS.removeprefix('() => ')} > 0", timeout=90_000)
    eps = page.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(r"^\s*ε"))).first
    eps.wait_for(state="visible", timeout=30_000)
    time.sleep(1.0)  # let the first render settle
    before = page.evaluate(PLOT_DATA_JS)
    assert before != "[]", "no plotly figure data found in the page"
    handle = eps.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("End")  # a big move: ε to its maximum
    try:
        page.wait_for_function(f"(before) => ({PLOT_DATA_JS})() !== before", arg=before, timeout=45_000)
    except sync_api.TimeoutError:
        _save_screenshot(page, tmp_path, f"{name}-unchanged")
        pytest.fail(f"{name}: the figures did not change within 45 s of moving ε; plot data {before[:200]}; "
                    f"browser console: {page.console_errors[-20:]}")
    after = page.evaluate(PLOT_DATA_JS)
    assert json.loads(after) != json.loads(before)
    # the first change may be an intermediate step: wait until the figures settle (End's update)
    for _ in range(20):
        time.sleep(1.0)
        settled, after = after, page.evaluate(PLOT_DATA_JS)
        if settled == after:
            break
    eps.scroll_into_view_if_needed()
    _save_screenshot(page, tmp_path, name)


def _lab(notebook_dir: Path, tmp_path: Path):
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebook_dir}",
           "--LabApp.expose_app_in_browser=True", "--allow-root"]
    return (_server(cmd, f"http://127.0.0.1:{port}/api/status?token={token}", notebook_dir,
                    tmp_path / "jupyterlab.log"), f"http://127.0.0.1:{port}", token)


KERNEL_IDLE_JS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""
# run-all finished: no cell is queued/running ("[*]") and the kernel is idle again.
RUN_DONE_JS = """() => { const w = window.jupyterapp.shell.currentWidget;
  const busy = Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('*'));
  return !busy && w.sessionContext.session.kernel.status === 'idle'; }"""


def _lab_notebook_test(notebook: str, notebook_dir: Path, tmp_path: Path, page) -> None:
    server, base, token = _lab(notebook_dir, tmp_path)
    with server:
        page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")
        page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        time.sleep(1.0)
        page.wait_for_function(RUN_DONE_JS, timeout=120_000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                              " >> text=/Error|Traceback/")
        assert errors.count() == 0, f"{notebook} raised in the browser: {errors.first.inner_text()[:500]}"
        _move_eps_slider_and_check(page, tmp_path, f"jupyterlab-{Path(notebook).stem}")


def test_explorer_notebook_in_jupyterlab(notebook_dir, tmp_path, page):
    _lab_notebook_test(NB06, notebook_dir, tmp_path, page)


def test_linear_risk_notebook_in_jupyterlab(notebook_dir, tmp_path, page):
    _lab_notebook_test(NB01, notebook_dir, tmp_path, page)


def test_teaching_mode_voila_serves_live_sliders_without_code(notebook_dir, tmp_path, page):
    from advexplore.app.cli import voila_command

    port, token = _free_port(), secrets.token_hex(16)
    cmd = voila_command(notebook_dir / NB01, port, notebook_dir, token=token)
    with _server(cmd, f"tcp://127.0.0.1:{port}", notebook_dir, tmp_path / "voila.log"):
        page.goto(f"http://127.0.0.1:{port}/?token={token}", timeout=120_000)
        _move_eps_slider_and_check(page, tmp_path, f"voila-{Path(NB01).stem}")
        # teaching mode hides the code: no source of the parameters cell is in the page
        assert "results_path" not in page.content()
