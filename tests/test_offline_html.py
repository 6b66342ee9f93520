"""The HTML that `advexplore run` exports (run_notebooks.export_html) works offline: opened in
Chromium it requests nothing but the page itself (no MathJax, require.js, widget manager or
font from a CDN), and still shows its formulas (MathML) and its plotly figures.

The browser part skips without /usr/bin/chromium or Playwright, like test_browser."""
from __future__ import annotations

from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest

from advexplore.app.run_notebooks import export_html
from advexplore.plots.export import PLOTLY_MIME
from advexplore.plots.mathml import protect_math, restore_math

MARKDOWN = r"""# Adversarial risk $R_L(\theta, \varepsilon)$

For the linear model the inner maximum is explicit:
$$R_L(\theta, \varepsilon) = \mathbb{E}\big(|y - \theta^\top x| + \varepsilon \|\theta\|_*\big)^2,$$
and \(\nabla_x f(x)\) is $\theta$; it costs $5 and $10, and `$not math$` is code."""


def _notebook(tmp_path: Path) -> Path:
    """An 'executed' notebook: formulas, a plotly figure, a progress-bar widget and its state."""
    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 3, 2], name="risk"), layout=dict(title="a figure"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(MARKDOWN),
                nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
                    "display_data", data={PLOTLY_MIME: fig.to_plotly_json(), "text/plain": "Figure"})]),
                nbformat.v4.new_code_cell("bar", outputs=[nbformat.v4.new_output("display_data", data={
                    "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                                 "version_minor": 0},
                    "text/plain": "100%|██████████| 3/3"})])]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"abc": {"model_name": "FloatProgressModel", "model_module": "@jupyter-widgets/controls",
                          "model_module_version": "2.0.0", "state": {"value": 3}}},
        "version_major": 2, "version_minor": 0}}
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_formulas_become_mathml_and_code_stays_code():
    formulas = []
    protected = protect_math(MARKDOWN, formulas)
    assert len(formulas) == 4 and "$" not in protected.replace("$5 and $10", "").replace("`$not math$`", "")
    html = restore_math(f'<h1 id="{protected.splitlines()[0]}">{protected}</h1>', formulas)
    assert html.count("<math") == 4 and 'display="block"' in html and "ADVEXPLOREMATH" not in html
    assert "`$not math$`" in html and "$5 and $10" in html
    unreadable = []
    restore_math(protect_math(r"$\frac{1}{$", unreadable), unreadable)
    assert "tex-source" in unreadable[0]  # a formula latex2mathml cannot read stays as its TeX


def test_export_has_no_cdn_script_and_no_widget_state(tmp_path):
    text = export_html(_notebook(tmp_path)).read_text(encoding="utf-8")
    assert "cdnjs" not in text and "unpkg" not in text and "require.min.js" not in text
    assert "widget-state+json" not in text and "100%|" in text  # the progress bar as text
    assert text.count("<math") == 4 and "ADVEXPLOREMATH" not in text


@pytest.mark.browser
def test_exported_page_requests_nothing_from_other_hosts_and_renders(tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no browser: /usr/bin/chromium is absent")
    from test_browser import CHROMIUM, CHROMIUM_ARGS, sync_api  # skips without Playwright

    html = export_html(_notebook(tmp_path))
    requests = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:", "blob:"))
                       else route.abort())
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot');"
                                   " return p && p._fullLayout && p.querySelector('.main-svg'); }", timeout=30_000)
            maths = page.evaluate("""() => Array.from(document.querySelectorAll('math')).map(m => {
                const r = m.getBoundingClientRect(); return [r.width, r.height, m.getAttribute('display')]; })""")
            traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data.length")
        finally:
            browser.close()
    foreign = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not foreign, f"the exported page requested other hosts: {foreign}"
    assert len(maths) == 4 and all(w > 5 and h > 5 for w, h, _ in maths), maths  # drawn as MathML
    assert [d for *_, d in maths].count("block") == 1
    assert traces == 1
