"""A plotly FigureWidget that reaches the browser reliably, however many a notebook shows.

Two things go wrong with plain ``go.FigureWidget`` (plotly 6-7, anywidget 0.9-0.11), and both
were seen in this project's JupyterLab browser tests on a loaded 2-core machine:

1. Each FigureWidget ships plotly's whole widget bundle (5 MB of JavaScript) as its anywidget
   ``_esm`` and the browser evaluates it once per widget, one after the other, while
   anywidget gives every widget model 2 s to initialise ("[anywidget] Failed to initialize
   model."). A notebook with three figures (the explorer) needs three evaluations inside those
   2 s; a failed model shows a dead figure that no slider updates.
   Here the ``_esm`` is a small loader: the bundle travels as the ``_plotly_esm`` trait, is
   evaluated once per page (cached on ``globalThis`` under the plotly version) and only
   when the first figure is drawn, so model initialisation is instant.
2. plotly sets the figure's data and layout traits after ipywidgets has opened the comm with
   empty ones, so the figure travels in a second message that a front end still setting the
   model up can miss (manzt/anywidget#803): an empty plot. Here the comm opens only once the
   constructor is done, with the figure in its first message.

Everything else is plotly's own FigureWidget: the loader hands initialize/render to the
bundle's default export (the anywidget contract), per model, unchanged.
"""
from __future__ import annotations

import functools
import json
import pathlib

import plotly
import plotly.graph_objects as go
import traitlets

_LOADER = """
const KEY = %(key)s;
function bundle(model) {
  if (!globalThis[KEY]) {
    const url = URL.createObjectURL(new Blob([model.get("_plotly_esm")], { type: "text/javascript" }));
    globalThis[KEY] = import(/* webpackIgnore: true */ url).finally(() => URL.revokeObjectURL(url));
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


@functools.lru_cache(maxsize=1)
def _plotly_bundle() -> str:
    return (pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").read_text(encoding="utf-8")


class SharedBundleFigureWidget(go.FigureWidget):
    """go.FigureWidget with plotly's bundle evaluated once per page and the figure in the
    comm's first message (see the module docstring). Use it exactly like go.FigureWidget."""

    _esm = _LOADER % {"key": json.dumps(f"__advexplore_plotly_widget_{plotly.__version__}")}
    _plotly_esm = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *args, **kwargs):
        self._hold_open = True
        super().__init__(*args, **kwargs)
        self._plotly_esm = _plotly_bundle()
        self._hold_open = False
        self.open()

    def open(self):
        if not getattr(self, "_hold_open", False):
            super().open()


def new_figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget (an anywidget since plotly 6) for in-place updates from sliders; see
    SharedBundleFigureWidget for why it is not a plain go.FigureWidget."""
    return SharedBundleFigureWidget(fig)
