"""The figure widgets open their comm with the figure inside the first message, so a browser
that misses early update messages (manzt/anywidget#803) still draws the whole figure."""
import plotly.graph_objects as go

from advexplore.widgets.figure_widget import new_figure_widget


def test_figure_widget_comm_opens_with_data_and_layout(monkeypatch):
    import ipywidgets.widgets.widget as widget_module

    opened = []
    create = widget_module.comm.create_comm

    def recording_create_comm(**kwargs):
        opened.append(kwargs)
        return create(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", recording_create_comm)
    fig = new_figure_widget(go.Figure(go.Scatter(y=[1, 2, 3]), layout=dict(title="risk")))
    assert isinstance(fig, go.FigureWidget) and len(opened) == 1
    state = opened[0]["data"]["state"]
    assert [list(t["y"]) for t in state["_widget_data"]] == [[1, 2, 3]]
    assert state["_widget_layout"]["title"]["text"] == "risk"
    fig.data[0].y = [3, 2, 1]                      # later updates still work as for any FigureWidget
    assert list(fig.data[0].y) == [3, 2, 1] and len(opened) == 1


def test_the_widget_loader_carries_plotlys_own_bundle():
    """The small _esm loader hands over to plotly's bundle, which travels as a trait: the very
    file plotly ships, and one cache key per plotly version."""
    import pathlib

    import plotly

    fig = new_figure_widget(go.Figure())
    state = fig.get_state()
    shipped = (pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").read_text(encoding="utf-8")
    assert state["_plotly_esm"] == shipped
    assert len(state["_esm"]) < 5_000 and f"__advexplore_plotly_widget_{plotly.__version__}" in state["_esm"]
    assert "export default" in state["_esm"] and "initialize" in state["_esm"] and "render" in state["_esm"]
