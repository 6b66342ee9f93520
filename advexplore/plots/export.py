"""Figures to files for papers and slides: PNG (raster, `scale`× pixels) and SVG/PDF (vector).

Uses plotly's own export (`plotly.io.write_image`), which needs the `kaleido` package (the
`figures` extra) and a Chrome/Chromium on the machine (kaleido ≥ 1 drives it; Debian's
`chromium` works). Figures keep the style they were built with (`plots.style.apply_style`:
Okabe–Ito colour-blind-safe palette, labelled axes).

    >>> from advexplore.plots.export import export_figure
    >>> export_figure(fig, "figures/risk_vs_eps", formats=("png", "svg"))  # doctest: +SKIP
    [PosixPath('figures/risk_vs_eps.png'), PosixPath('figures/risk_vs_eps.svg')]

`export_notebook_figures(executed.ipynb, out_dir)` writes every plotly figure a headless run
displayed (`advexplore run NB --figures png,svg` calls it).
"""
from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

FORMATS = ("png", "svg", "pdf", "jpeg", "webp")
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(f.lower().lstrip(".") for f in formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {formats}")
    return formats


def _require_kaleido() -> None:
    try:
        import kaleido  # noqa: F401
    except ImportError as err:
        raise RuntimeError("figure export needs kaleido: pip install 'advexplore[figures]' "
                           "(plus a Chrome/Chromium, e.g. apt-get install chromium)") from err


def export_figure(fig, path, formats=("png", "svg"), width: int | None = None,
                  height: int | None = None, scale: float = 2.0) -> list[Path]:
    """Write `fig` (go.Figure or FigureWidget) as path.<fmt> for each format; returns the paths.

    Args:
        fig: the figure; a FigureWidget is copied into a plain go.Figure first.
        path: file path without (or with, ignored) suffix; parent folders are created.
        formats: any of png, svg, pdf, jpeg, webp.
        width, height: pixels (default: the figure's layout, else plotly's 700×500).
        scale: PNG/JPEG resolution multiplier (2 = sharp on slides).
    """
    formats = _check_formats(formats)
    if not isinstance(fig, go.Figure):
        raise TypeError(f"fig must be a plotly go.Figure or FigureWidget, got {type(fig).__name__}")
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    _require_kaleido()
    import plotly.io as pio

    fig = go.Figure(fig)  # a FigureWidget cannot be pickled to kaleido; a copy can
    stem = Path(path).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{fmt}") for fmt in formats]
    for p, fmt in zip(paths, formats):
        pio.write_image(fig, p, format=fmt, width=width, height=height, scale=scale)
    return paths


def notebook_figures(notebook) -> list[tuple[str, go.Figure]]:
    """(name, figure) for every plotly figure displayed in an executed notebook's outputs.

    The name is `cellNN_K` plus a slug of the figure's title when it has one.
    """
    import nbformat

    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(str(notebook), as_version=4)
    found = []
    for ci, cell in enumerate(nb.cells):
        for k, out in enumerate(cell.get("outputs", [])):
            data = out.get("data", {}) if isinstance(out, dict) else {}
            if PLOTLY_MIME not in data:
                continue
            fig = go.Figure(data[PLOTLY_MIME])
            title = fig.layout.title.text or ""
            slug = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:40]
            found.append((f"cell{ci:02d}_{k}" + (f"_{slug}" if slug else ""), fig))
    return found


def export_notebook_figures(notebook, out_dir, formats=("png", "svg"), scale: float = 2.0) -> list[Path]:
    """Export every plotly figure of an executed notebook into out_dir; returns the files."""
    paths = []
    for name, fig in notebook_figures(notebook):
        paths += export_figure(fig, Path(out_dir) / name, formats=formats, scale=scale)
    return paths


def plotly_outputs_as_html(nb) -> None:
    """nbconvert cannot render plotly's JSON output: add a text/html version of each figure,
    plotly.js embedded once (the page then works offline; no MathJax from a CDN)."""

    first = True
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data and "text/html" not in data:
                data["text/html"] = pio.to_html(go.Figure(data[PLOTLY_MIME]), full_html=False,
                                                include_plotlyjs=first, include_mathjax=False)
                first = False


WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
# nbconvert's lab page without what it would load from CDNs: require.js, MathJax, mermaid and the
# widget manager (a static page has no kernel: figures come from plotly's JSON, formulas are MathML).
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
"""


def offline_notebook_html(notebook) -> str:
    """An executed notebook as one self-contained HTML page that requests nothing from any
    other host when opened: plotly.js inlined once, formulas as MathML (plots.mathml), no
    require.js, no widget manager and no widget state (a static page has no kernel)."""
    import copy

    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    from .mathml import protect_math, restore_math

    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(str(notebook), as_version=4)
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    formulas: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = protect_math(cell.source, formulas)
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            data.pop(WIDGET_VIEW_MIME, None)  # a progress bar keeps its text/plain
            for mime in ("text/markdown", "text/latex"):
                if isinstance(data.get(mime), str):
                    data[mime] = protect_math(data[mime], formulas)
            if "data" not in out or data:
                outputs.append(out)
        if "outputs" in cell:
            cell.outputs = outputs
    plotly_outputs_as_html(nb)
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"advexplore_offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="advexplore_offline.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    return restore_math(body, formulas)
