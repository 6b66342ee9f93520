"""A plotly FigureWidget that reaches the browser reliably, however many a notebook shows.

Three things go wrong with plain ``go.FigureWidget`` (plotly 6-7, anywidget 0.9-0.11); the
first two were seen in this project's JupyterLab browser tests on a loaded 2-core machine:

1. Each FigureWidget ships plotly's whole widget bundle (5 MB of JavaScript) as its anywidget
   ``_esm`` and the browser evaluates it once per widget, one after the other, while
   anywidget gives every widget model 2 s to initialise ("[anywidget] Failed to initialize
   model."). A notebook with three figures (the explorer) needs three evaluations inside those
   2 s; a failed model shows a dead figure that no slider updates.
   Here the ``_esm`` is a small loader: the bundle is evaluated once per page (cached on
   ``globalThis`` under the plotly version) and only when the first figure is drawn, so model
   initialisation is instant.
2. plotly sets the figure's data and layout traits after ipywidgets has opened the comm with
   empty ones, so the figure travels in a second message that a front end still setting the
   model up can miss (manzt/anywidget#803): an empty plot. Here the comm opens only once the
   constructor is done, with the figure in its first message.
3. The bundle is saved with every figure: a notebook's widget state held it once per figure
   (31 MB for notebook 06's six figures). Here it is the state of ONE never-displayed
   ``PlotlyBundle`` widget per kernel, which every figure names by a widget reference
   (``_plotly_bundle``, ipywidgets' ``widget_serialization``): it is sent and saved once,
   gzipped (1.9 MB), and clearing a figure's output does not lose it. The loader waits for
   that model.

Everything else is plotly's own FigureWidget: the loader hands initialize/render to the
bundle's default export (the anywidget contract), per model, unchanged.
"""
from __future__ import annotations

import base64
import functools
import gzip
import json
import pathlib

import ipywidgets as widgets
import plotly
import plotly.graph_objects as go
import traitlets

_LOADER = """
const KEY = %(key)s;
const PREFIX = "IPY_MODEL_";
async function bundleSource(model) {
  // the figure names the one PlotlyBundle widget of its kernel; wait until the page knows it
  const ref = model.get("_plotly_bundle");
  let holder = ref && typeof ref.get === "function" ? ref : null;
  const id = String(ref).startsWith(PREFIX) ? String(ref).slice(PREFIX.length) : String(ref);
  for (let attempt = 0; !holder; attempt++) {
    try {
      holder = await model.widget_manager.get_model(id);
    } catch (err) {
      if (attempt >= 100) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // gzip, then base64: 1.9 MB instead of 5 MB to send and to save
  const bytes = Uint8Array.from(atob(holder.get("esm_gzip_base64")), (c) => c.charCodeAt(0));
  return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
}
function bundle(model) {
  if (!globalThis[KEY]) {
    globalThis[KEY] = bundleSource(model).then((source) => {
      const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      return import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url));
    });
    globalThis[KEY].catch(() => { delete globalThis[KEY]; });   // a later figure tries again
  }
  return globalThis[KEY];
}
export default () => {
  let context = null;
  let inner = null;
  const ready = () => {
    if (!inner) {
      inner = bundle(context.model).then(async (mod) => {
        const def = typeof mod.default === "function" ? await mod.default() : mod.default;
        if (def.initialize) await def.initialize(context);
        return def;
      });
    }
    return inner;
  };
  return {
    initialize(ctx) {
      context = ctx;
      ready();   // starts loading, not awaited: anywidget times model initialisation out at 2 s
    },
    async render(ctx) {
      const def = await ready();
      return def.render(ctx);
    },
  };
};
"""


def _plotly_bundle() -> str:
    return (pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _plotly_bundle_gzip_base64() -> str:
    """plotly's bundle gzipped (mtime 0: the same bytes every time) and base64-encoded."""
    packed = gzip.compress(_plotly_bundle().encode("utf-8"), compresslevel=9, mtime=0)
    return base64.b64encode(packed).decode("ascii")


class PlotlyBundle(widgets.Widget):
    """plotly's widget bundle as the state of one never-displayed widget (ipywidgets' base
    WidgetModel in the front end): sent once per kernel, named by every figure widget; gzipped
    and base64-encoded (the browser's DecompressionStream unpacks it)."""

    esm_gzip_base64 = traitlets.Unicode("").tag(sync=True)


_shared: PlotlyBundle | None = None


def shared_bundle() -> PlotlyBundle:
    """This kernel's PlotlyBundle, made on first use (and again after Widget.close_all())."""
    global _shared
    if _shared is None or _shared.comm is None:
        _shared = PlotlyBundle(esm_gzip_base64=_plotly_bundle_gzip_base64())
    return _shared


class SharedBundleFigureWidget(go.FigureWidget):
    """go.FigureWidget with plotly's bundle sent once per kernel and evaluated once per page,
    and the figure in the comm's first message (see the module docstring). Use it exactly like
    go.FigureWidget."""

    _esm = _LOADER % {"key": json.dumps(f"__advexplore_plotly_widget_{plotly.__version__}")}
    _plotly_bundle = traitlets.Instance(PlotlyBundle, allow_none=True).tag(sync=True, **widgets.widget_serialization)

    def __init__(self, *args, **kwargs):
        self._hold_open = True
        super().__init__(*args, **kwargs)
        self._plotly_bundle = shared_bundle()   # its comm opens before this figure's
        self._hold_open = False
        self.open()

    def open(self):
        if not getattr(self, "_hold_open", False):
            super().open()


def new_figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget (an anywidget since plotly 6) for in-place updates from sliders; see
    SharedBundleFigureWidget for why it is not a plain go.FigureWidget."""
    return SharedBundleFigureWidget(fig)
