"""Every figure is legible: no two text elements of a plotly figure overlap, in the HTML that
`advexplore run` exports (one page per CPU notebook, executed headless with small parameters),
at page widths 1000 and 1400 px and at the PNG export's size (kaleido: the layout's height,
700 px wide unless the layout sets a width).

Text elements are the title, the subplot titles and other annotations, the axis titles, every
tick label, the colour bar's title and labels, and the legend's box as a whole. Two of them
overlap when their bounding boxes share more than 1 px in both directions; empty or hidden
text is ignored. No text may stick out of the figure either (cut off; 3 px tolerance).

Skipped only when there is no browser (/usr/bin/chromium) or no Playwright, like test_browser.
"""
from __future__ import annotations

from pathlib import Path

import pytest

PAGE_WIDTHS = (1000, 1400)
PNG_WIDTH = 700  # kaleido's default width when a figure's layout sets none (export_figure)
TOLERANCE_PX = 1.0
LOCAL = ("file:", "data:", "blob:", "about:")
EDGE_TOLERANCE_PX = 3.0  # a title pushed to the figure's top edge may touch it (its glyph box's ascent)

# Small parameters (the notebooks' own assertions still hold): the figures' layout, not the
# science, is under test here. Keyed by the notebook's number.
SMALL = {
    "01": {},
    "02": {"steps": 300},
    "03": {"ns": [30, 300], "reps": 3, "steps": 300},
    "04": {"d": 400, "reps": 4, "steps": 500},
    "05": {"ns": [25, 100], "d": 200, "reps": 2, "steps": 300},
    "06": {"n": 100, "width": 32, "depth": 2, "train_steps": 30},
    "07": {"n_values": [100, 800], "h_values": [8, 128], "steps": 150, "n_test": 2000, "hd_d": 100,
           "hd_reps": 1},
    "08": {"widths": [4, 64], "eps_values": [0.0, 0.2], "steps": 200, "n": 30},
    "09": {"epochs": 30, "hidden": 64, "n_test": 100, "reps": 2, "n_grid": [6, 20], "attack_steps": 3,
           "eval_steps": 5},
    "10": {"eps_grid": [0.0, 0.5], "epochs": 10, "hidden": 64, "n_test": 100, "bisections": 3,
           "lipschitz_samples": 16, "eval_steps": 10},
}

# the same browser, marks and skips as the JupyterLab/Voilà tests (skips here too without them)
from test_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark, sync_api  # noqa: E402, F401

# For every .js-plotly-plot: its text elements as {kind, text, box}. Tick labels are taken
# one by one; the legend only as its box (plotly lays its entries out itself).
TEXT_BOXES_JS = """() => {
  const SELECTORS = [
    ['title', '.g-gtitle text.gtitle'],
    ['annotation', 'g.annotation text'],
    ['axis title', '[class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text'],
    ['tick', '.xaxislayer-above text, .yaxislayer-above text'],
    ['colour bar', '.colorbar text'],
    ['legend box', 'g.legend > rect.bg'],
  ];
  const visible = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
    }
    return true;
  };
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map((plot, index) => {
    const items = [];
    const seen = new Set();
    for (const [kind, selector] of SELECTORS) {
      for (const el of plot.querySelectorAll(selector)) {
        if (seen.has(el)) continue;
        seen.add(el);
        const text = kind === 'legend box' ? 'legend' : (el.textContent || '').trim();
        const r = el.getBoundingClientRect();
        if (!text || r.width < 0.5 || r.height < 0.5 || !visible(el)) continue;
        items.push({kind, text: text.slice(0, 60), box: [r.left, r.top, r.right, r.bottom]});
      }
    }
    const title = (plot.layout && plot.layout.title && plot.layout.title.text) || '';
    const r = plot.querySelector('.main-svg').getBoundingClientRect();
    return {index, title: String(title).slice(0, 60), items, frame: [r.left, r.top, r.right, r.bottom]};
  });
}"""

PLOTS_DRAWN_JS = """() => { const plots = document.querySelectorAll('.js-plotly-plot');
  return plots.length > 0 && Array.from(plots).every(p => p._fullLayout && p.querySelector('.main-svg')); }"""

# Every figure laid out at its container's current width (after a viewport change).
PLOTS_FIT_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(
  p => p._fullLayout && Math.abs(p._fullLayout.width - p.getBoundingClientRect().width) <= 1)"""

NEXT_FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"

# The PNG export: the same figure at kaleido's size (layout height, PNG_WIDTH wide).
AS_PNG_JS = """async (width) => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    plot.style.width = width + 'px';
    await Plotly.relayout(plot, {width: plot.layout.width || width, autosize: false});
  }
}"""


def overlaps(items: list[dict], tolerance: float = TOLERANCE_PX) -> list[tuple[dict, dict, float, float]]:
    """Pairs of items whose boxes share more than `tolerance` px both across and down."""
    found = []
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            (al, at, ar, ab), (bl, bt, br, bb) = a["box"], b["box"]
            dx, dy = min(ar, br) - max(al, bl), min(ab, bb) - max(at, bt)
            if dx > tolerance and dy > tolerance:
                found.append((a, b, dx, dy))
    return found


def outside(items: list[dict], frame: list[float], tolerance: float = EDGE_TOLERANCE_PX) -> list[dict]:
    """Items that stick out of the figure (cut off where the figure ends)."""
    left, top, right, bottom = frame
    return [a for a in items if a["box"][0] < left - tolerance or a["box"][1] < top - tolerance
            or a["box"][2] > right + tolerance or a["box"][3] > bottom + tolerance]


def test_overlap_finds_crossing_boxes_only():
    a = {"kind": "tick", "text": "8", "box": [0, 0, 10, 10]}
    touching = {"kind": "tick", "text": "9", "box": [9.5, 0, 20, 10]}  # within the 1 px tolerance
    crossing = {"kind": "title", "text": "t", "box": [5, 5, 30, 30]}
    assert overlaps([a, touching]) == []
    assert [(x["text"], y["text"]) for x, y, *_ in overlaps([a, touching, crossing])] == [("8", "t"), ("9", "t")]


@pytest.fixture(scope="module")
def exported_pages(tmp_path_factory):
    """Every CPU notebook executed headless with SMALL parameters and exported as HTML."""
    from advexplore.app.run_notebooks import cpu_notebooks, run_one

    out = tmp_path_factory.mktemp("figure-text")
    pages = {}
    for notebook in cpu_notebooks():
        key = notebook.name[:2]
        record = run_one(notebook, out / key, SMALL.get(key, {}), html=True)
        assert record["status"] == "ok", f"{notebook.name} failed with {SMALL.get(key)}: {record['error']}"
        pages[notebook.name] = Path(record["html"])
    return pages


def _describe(notebook: str, view: str, figure: dict, pair) -> str:
    a, b, dx, dy = pair
    return (f"{notebook} [{view}] figure {figure['index']} ({figure['title']!r}): {a['kind']} {a['text']!r} "
            f"overlaps {b['kind']} {b['text']!r} by {dx:.0f}×{dy:.0f} px")


def text_problems(pages: dict[str, Path]) -> tuple[list[str], int]:
    """Overlaps in every figure of every page (one browser, one tab), and how many figures."""
    problems, figures_seen = [], 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": PAGE_WIDTHS[0], "height": 900})
            # the page itself only: the export must work offline (test_offline_html), so any other
            # request is a problem, and is refused rather than left to hang
            page.on("request", lambda r: r.url.startswith(LOCAL) or problems.append(f"{page.url}: requested {r.url}"))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL) else route.abort())
            for notebook, html in pages.items():
                views = []
                for n, width in enumerate(sorted(PAGE_WIDTHS, reverse=True)):  # one load, then narrower
                    page.set_viewport_size({"width": width, "height": 900})
                    if n == 0:
                        page.goto(Path(html).as_uri(), wait_until="load")
                        page.wait_for_function(PLOTS_DRAWN_JS, timeout=60_000)
                    page.wait_for_function(PLOTS_FIT_JS, timeout=30_000)  # plotly's responsive resize
                    page.evaluate(NEXT_FRAMES_JS)
                    views.append((f"page {width} px", page.evaluate(TEXT_BOXES_JS)))
                page.evaluate(AS_PNG_JS, PNG_WIDTH)
                views.append((f"PNG export, {PNG_WIDTH} px wide", page.evaluate(TEXT_BOXES_JS)))
                for view, figures in views:
                    figures_seen += len(figures)
                    for figure in figures:
                        problems += [_describe(notebook, view, figure, pair) for pair in overlaps(figure["items"])]
                        problems += [f"{notebook} [{view}] figure {figure['index']} ({figure['title']!r}): "
                                     f"{a['kind']} {a['text']!r} is cut off at the figure's edge"
                                     for a in outside(figure["items"], figure["frame"])]
        finally:
            browser.close()
    return problems, figures_seen


def test_no_text_of_any_figure_overlaps(exported_pages):
    problems, figures_seen = text_problems(exported_pages)
    assert figures_seen >= 3 * len(exported_pages), "too few figures were found in the exported pages"
    assert not problems, f"{len(problems)} overlapping text elements:\n" + "\n".join(problems)
