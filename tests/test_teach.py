"""`advexplore teach` for a lecture hall: addresses and tokens, the classroom options of the
server, results as HTML tables, the fair refit queue, kernels forked from a warm template,
kernels that end when students leave, pages that request nothing from another host, and a
small class (4 students) of the load benchmark.

The browser tests drive Debian's /usr/bin/chromium with Playwright (as tests/test_browser.py)
and skip only when it is absent. Servers listen on 127.0.0.1 only.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from advexplore.app import cli, teach
from advexplore.app.kernel_fork import forkable_args, notebook_imports, preload_modules
from advexplore.widgets.refit_queue import RefitQueue, refit_slot
from advexplore.widgets.teaching import results_html, results_table, teaching_mode

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
TINY = DATA / "tiny_params.ipynb"
NB01 = ROOT / "notebooks" / "01_linear_adversarial_risk.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no browser: /usr/bin/chromium is absent (apt-get install chromium; .ci/run does it)")


# --------------------------------------------------------------------------- serving a room
@pytest.fixture
def no_server(monkeypatch):
    """Record what `advexplore teach` would exec instead of starting a server."""
    calls = []
    monkeypatch.setattr(teach, "serve", lambda cmd, env, cwd: calls.append((cmd, env, cwd)) or 0)
    monkeypatch.setattr(cli, "serve", lambda cmd, env, cwd: calls.append((cmd, env, cwd)) or 0)
    return calls


@pytest.mark.parametrize("ip", ["0.0.0.0", "192.168.1.20", "::", "lab-pc.example"])
def test_room_address_without_token_is_refused(ip, no_server, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--dir", str(DATA), "teach", "tiny_params", "--ip", ip, "--no-browser"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--token" in err and ip in err
    assert no_server == []  # refused before anything started


@pytest.mark.parametrize("ip", ["127.0.0.1", "localhost", "127.0.0.2", "::1"])
def test_loopback_needs_no_token(ip, no_server):
    assert cli.main(["--dir", str(DATA), "teach", "tiny_params", "--ip", ip, "--no-browser"]) == 0
    (cmd, env, cwd), = no_server
    assert f"--Voila.ip={ip}" in cmd and not any(a.startswith("--token") for a in cmd)


def test_room_address_with_token_prints_the_url_to_hand_out(no_server, capsys):
    assert cli.main(["--dir", str(DATA), "teach", "tiny_params", "--ip", "0.0.0.0", "--token", "s3cret-42",
                     "--port", "9123", "--no-browser"]) == 0
    out = capsys.readouterr().out
    urls = re.findall(r"http://\S+", out.split("students open:")[1])
    assert urls and all(u.endswith(":9123/?token=s3cret-42") for u in urls)
    (cmd, env, cwd), = no_server
    assert "--Voila.ip=0.0.0.0" in cmd and "--token=s3cret-42" in cmd and "--port=9123" in cmd
    assert cwd == DATA


def test_random_token_is_made_and_printed(no_server, capsys):
    assert cli.main(["--dir", str(DATA), "teach", "tiny_params", "--ip", "10.0.0.7", "--token", "random",
                     "--no-browser"]) == 0
    (cmd, env, cwd), = no_server
    token = next(a for a in cmd if a.startswith("--token=")).split("=", 1)[1]
    assert len(token) >= 10 and token != "random"
    assert f"http://10.0.0.7:8866/?token={token}" in capsys.readouterr().out


def test_handout_url_for_an_address():
    assert teach.handout_urls("192.168.0.5", 8866, "t") == ["http://192.168.0.5:8866/?token=t"]
    assert teach.handout_urls("127.0.0.1", 8000, None) == ["http://127.0.0.1:8000/"]
    assert teach.handout_urls("fe80::1", 8000, "t") == ["http://[fe80::1]:8000/?token=t"]


# --------------------------------------------------------------------------- the server's options
def test_teach_command_carries_the_classroom_options(no_server):
    assert cli.main(["--dir", str(DATA), "teach", "tiny_params", "--no-browser", "--cull-idle", "12",
                     "--cull-unconnected", "34", "--cull-connected", "600", "--cull-interval", "3",
                     "--kernel-threads", "2", "--refit-slots", "5"]) == 0
    (cmd, env, cwd), = no_server
    assert cmd[1] == str(teach.SERVER) and str(TINY) in cmd
    for option in ("--TeachKernelManager.cull_idle_timeout=12", "--TeachKernelManager.cull_unconnected_timeout=34",
                   "--TeachKernelManager.cull_connected_timeout=600", "--TeachKernelManager.cull_interval=3",
                   "--TeachKernelManager.fork_kernels=True", "--template=advexplore", "--strip_sources=True",
                   "--Voila.port_retries=0", "--no-browser"):
        assert option in cmd, option
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
    assert env["ADVEXPLORE_TEACH"] == "1" and env["ADVEXPLORE_REFIT_SLOTS"] == "5"
    assert Path(env["ADVEXPLORE_REFIT_DIR"]).is_dir()


def test_defaults_end_kernels_within_the_promised_times():
    c = teach.Classroom()
    assert 0 < c.cull_idle + c.cull_interval <= 60        # a closed page
    assert 0 < c.cull_unconnected + c.cull_interval <= 120  # a page fetched but never connected
    cmd = teach.voila_command(TINY, 8000, DATA, token="t")
    assert "--TeachKernelManager.fork_kernels=True" in cmd and "--token=t" in cmd


def test_pool_and_progressive_rendering_exclude_each_other():
    with pytest.raises(teach.TeachError):
        teach.voila_command(TINY, 8000, DATA, classroom=teach.Classroom(pool=2, progressive=True))
    cmd = teach.voila_command(TINY, 8000, DATA, classroom=teach.Classroom(pool=3, fork=False))
    assert "--preheat_kernel=True" in cmd and "--pool_size=3" in cmd and "--TeachKernelManager.fork_kernels=False" in cmd
    assert "--progressive_rendering=False" in cmd  # the default gives way to the pool
    assert "--progressive_rendering=True" in teach.voila_command(TINY, 8000, DATA)


def test_template_removes_every_cdn_link_of_voilas_lab_template():
    """The advexplore template blanks the CDN stylesheets of the Voilà version installed: if a
    Voilà upgrade adds or changes one, this fails before a student's page goes to the network."""
    from jupyter_core.paths import jupyter_path

    lab = next((Path(p) / "voila/templates/lab/index.html.j2" for p in jupyter_path()
                if (Path(p) / "voila/templates/lab/index.html.j2").exists()), None)
    if lab is None:
        pytest.skip("Voilà's lab template is not installed")
    ours = (ROOT / "advexplore/app/share/voila/templates/advexplore/index.html.j2").read_text()
    for url in re.findall(r'href="(https?://[^"]+)"', lab.read_text()):
        assert url in ours, f"Voilà's lab template links {url}; add it to the advexplore template"
    page = (ROOT / "advexplore/app/share/voila/templates/advexplore/page.html").read_text()
    assert "https://" not in page and "http://" not in page


def test_server_module_does_not_import_torch():
    """The server runs teach_server.py as a file so that it does not import torch (~0.2 GiB)."""
    code = ("import runpy, sys; sys.argv = ['teach_server', '--help']\n"
            f"try:\n    runpy.run_path({str(teach.SERVER)!r}, run_name='not_main')\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------- forked kernels
def test_notebook_imports_are_read_without_running_the_notebook():
    modules = notebook_imports(NB01)
    assert "torch" in modules and "advexplore.widgets.linear_adversarial_risk" in modules
    preload = preload_modules([NB01])
    assert preload[0].startswith("ipykernel") and "torch" in preload


def test_only_this_interpreters_ipykernel_is_forked():
    python = sys.executable
    assert forkable_args([python, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "c.json"]) == ["-f", "c.json"]
    assert forkable_args([python, "-m", "ipykernel_launcher", "-f", "c.json"]) == ["-f", "c.json"]
    assert forkable_args(["/usr/bin/python2", "-m", "ipykernel_launcher", "-f", "c.json"]) is None
    assert forkable_args([python, "-m", "other_kernel", "-f", "c.json"]) is None


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="forked kernels need os.fork")
def test_forked_kernel_runs_code_shares_the_template_and_ends(tmp_path):
    import asyncio

    import psutil
    from jupyter_client import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    from advexplore.app.kernel_fork import Template

    template = Template(["ipykernel.kernelapp", "json"]).start()
    try:
        asyncio.run(template.wait_ready())
        assert template.state == "ready"
        connection, _ = write_connection_file(str(tmp_path / "kernel.json"), ip="127.0.0.1")
        env = dict(os.environ, ADVEXPLORE_MARK="forked")
        pid = asyncio.run(template.fork(["-f", connection], env, str(tmp_path)))
        assert psutil.Process(pid).ppid() == template.process.pid
        client = BlockingKernelClient(connection_file=connection)
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        seen = []
        client.execute_interactive("import os, threading; print(os.environ['ADVEXPLORE_MARK'], os.getcwd(), "
                                   "os.getpgid(0) == os.getpid())", timeout=60,
                                   output_hook=lambda m: m["msg_type"] == "stream" and seen.append(m["content"]["text"]))
        assert "".join(seen).split() == ["forked", str(tmp_path), "True"]
        client.shutdown()
        client.stop_channels()
        deadline = time.monotonic() + 30
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the forked kernel did not exit on shutdown"
            time.sleep(0.2)
    finally:
        template.stop()
    assert not template.alive


# --------------------------------------------------------------------------- results as tables
def test_results_html_flat_nested_and_grid():
    flat = results_html({"R*": 9.5604321, "θ*": -0.25, "ok": True, "none": None}, title="<b>x</b>")
    assert "<table" in flat and "9.56" in flat and "−0.25" in flat and "yes" in flat and "–" in flat
    assert "&lt;b&gt;x&lt;/b&gt;" in flat  # escaped
    nested = results_html({"standard": {"passes": 100, "seconds": 0.1234567},
                           "adversarial": {"passes": 600, "seconds": 1.5}}, row_label="run")
    assert nested.count("<tr>") == 3 and "passes" in nested and "0.1235" in nested
    grid = results_html({"eps": [0.0, 0.5, 1.0], "pgd": [1.0, 1.25, 2.5], "gap": [0, 0.01, 0.2]}, columns="eps")
    assert grid.count("<tr>") == 3 and ">0.5<" in grid and ">2.5<" in grid
    assert "{" not in nested and "[" not in grid  # no Python reprs


def test_results_table_is_a_widget_and_teaching_mode_reads_the_environment(monkeypatch):
    table = results_table({"a": 1.0})
    assert table.value.startswith("<table")
    monkeypatch.delenv("ADVEXPLORE_TEACH", raising=False)
    monkeypatch.delenv("VOILA_APP_PORT", raising=False)
    assert not teaching_mode()
    monkeypatch.setenv("VOILA_APP_PORT", "8866")
    assert teaching_mode()


# --------------------------------------------------------------------------- the refit queue
def test_refit_queue_is_first_come_first_served_and_tells_the_wait(tmp_path):
    queue = RefitQueue(tmp_path, slots=1, poll=0.02)
    order, reports = [], []
    first_running, release = threading.Event(), threading.Event()

    def first():
        with queue.slot():
            order.append("first")
            first_running.set()
            release.wait(10)

    def second():
        with queue.slot(reports.append):
            order.append("second")

    a = threading.Thread(target=first)
    a.start()
    assert first_running.wait(10)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.3)
    assert order == ["first"] and reports and reports[0].startswith("queued: 1 run ahead of you")
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["first", "second"] and reports[-1] == ""
    assert queue.tickets() == [] and queue.typical_seconds() is not None


def test_refit_queue_drops_tickets_of_dead_kernels_and_is_off_outside_teach(tmp_path, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"{0:020d}-{dead.pid}-deadbeef.ticket").touch()
    queue = RefitQueue(tmp_path, slots=1, poll=0.02)
    with queue.slot():
        assert len(queue.tickets()) == 1  # only ours: the dead kernel's ticket is gone
    monkeypatch.delenv("ADVEXPLORE_REFIT_DIR", raising=False)
    with refit_slot(lambda text: pytest.fail("no queue outside a teaching server")):
        pass


# --------------------------------------------------------------------------- browser: kernels end
def _classroom_module():
    """benchmarks/classroom_load.py: its Server starts `advexplore teach` as a teacher does (the
    CLI, 127.0.0.1, a token), reads the status API and process tree, and always kills it all."""
    spec = importlib.util.spec_from_file_location("classroom_load", ROOT / "benchmarks" / "classroom_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _wait_gone(server, kernel: dict, deadline_s: float, what: str) -> float:
    """Seconds until `kernel` is out of the server's list and its process out of the tree."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        listed = {k["id"] for k in server.status()["kernels"]}
        if kernel["id"] not in listed and kernel["pid"] not in {p.pid for p in server.tree()}:
            return time.monotonic() - start
        time.sleep(0.5)
    pytest.fail(f"{what}: kernel {kernel['id']} (pid {kernel['pid']}) still alive {deadline_s:.0f} s later; "
                f"kernels {server.status()['kernels']}")


@pytest.fixture
def notebook_copy(tmp_path):
    import shutil

    target = tmp_path / "notebooks"
    target.mkdir()
    shutil.copy(NB01, target / NB01.name)
    return target


FIGURE_JS = "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(el => (el.data || []).length > 0)"


def _student_page(browser, server, foreign: list, errors: list):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.on("request", lambda r: None if r.url.startswith((server.base + "/", "blob:" + server.base, "data:", "about:"))
            else foreign.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    before = {k["id"] for k in server.status()["kernels"]}
    page.goto(f"{server.base}/?token={server.token}", timeout=300_000)
    page.wait_for_function(FIGURE_JS, timeout=300_000)
    (kernel,) = [k for k in server.status()["kernels"] if k["id"] not in before]
    return page, kernel


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_kernels_end_when_students_leave_and_nothing_leaves_127_0_0_1(notebook_copy, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e .[browser])")
    load = _classroom_module()
    # short timeouts, through the same options a teacher uses
    server = load.Server("01", notebook_copy, ["--cull-idle", "6", "--cull-unconnected", "20", "--cull-interval", "2"],
                         tmp_path / "teach.log")
    try:
        server.wait_ready(600)
        # 1. a fetch without JavaScript (a crawler, a reload that never connects): its kernel
        #    never gets a websocket
        with urllib.request.urlopen(f"{server.base}/?token={server.token}", timeout=300) as r:
            assert r.status == 200 and "results_path" not in r.read().decode()
        (fetched,) = server.status()["kernels"]
        assert not fetched["ever_connected"] and fetched["forked"]
        fetched_at = time.monotonic()
        foreign, errors = [], []
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=load.CHROMIUM_ARGS)
            try:
                # 2. a student leaves the page (another page, a closed tab): Voilà's unload beacon
                page, left = _student_page(browser, server, foreign, errors)
                assert left["connections"] == 1
                page.goto("about:blank")
                gone_s = _wait_gone(server, left, 20, "page navigated away")
                page.close()
                # 3. a page whose browser dies (no unload handlers run): the culler
                page, crashed = _student_page(browser, server, foreign, errors)
                page.close(run_before_unload=False)
                culled_s = _wait_gone(server, crashed, 6 + 2 + 25, "page closed abruptly")
            finally:
                browser.close()
        _wait_gone(server, fetched, max(5.0, 20 + 2 + 25 - (time.monotonic() - fetched_at)),
                   "page fetched but never connected")
        assert server.status()["kernels"] == [] and server.kernel_processes() == []
        assert foreign == [], f"requests to other hosts: {foreign}"
        assert errors == [], f"errors in the browser console: {errors}"
        print(f"kernel gone {gone_s:.1f} s after navigating away, {culled_s:.1f} s after an abrupt close")
    finally:
        server.kill()
    assert server.proc.poll() is not None
    assert not any(_is_alive(p) for p in server.known.values())


def _is_alive(p) -> bool:
    try:
        return p.is_running() and p.status() != "zombie"
    except Exception:
        return False


# --------------------------------------------------------------------------- a small class
@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_small_class_has_live_pages_no_errors_and_no_leaked_kernels(notebook_copy, tmp_path):
    pytest.importorskip("playwright.async_api", reason="Playwright is not installed (pip install -e .[browser])")
    load = _classroom_module()
    result = load.run_class("01", 4, directory=notebook_copy,
                            teach_args=["--cull-idle", "6", "--cull-unconnected", "20", "--cull-interval", "2"],
                            slider_seconds=12, leave_deadline=45, page_timeout=400, timeout=1200,
                            log_path=tmp_path / "teach.log")
    print(load.HEADER)
    print(load.format_row(result))
    assert result.dead_pages == 0, result.dead
    assert result.console_errors == [], result.console_errors
    assert result.foreign_requests == [], result.foreign_requests
    assert result.kernels_at_close == 4
    assert result.kernels_left == 0, f"kernels still alive {45} s after the pages closed"
    assert result.slider_moves > 0 and result.first_figure_p95_s is not None
