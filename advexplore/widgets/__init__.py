"""The only place with widget code: builders that wire ipywidgets sliders to the
figures of advexplore.plots. Each builder returns an object with `.ui` (to display),
`.figure` (a FigureWidget) and `.update(**values)` (the slider callback, also used
headless and by the latency benchmarks)."""
