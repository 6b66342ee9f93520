"""The figure widgets open their comm with the figure inside the first message, so a browser
that misses early update messages (manzt/anywidget#803) still draws the whole figure."""
import base64
import gzip
import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

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
    # the kernel's PlotlyBundle (made once, before its first figure), then the figure itself
    assert isinstance(fig, go.FigureWidget) and len(opened) in (1, 2)
    assert all("esm_gzip_base64" in kw["data"]["state"] for kw in opened[:-1])
    state = opened[-1]["data"]["state"]
    assert state["_plotly_bundle"] == f"IPY_MODEL_{fig._plotly_bundle.model_id}"
    assert [list(t["y"]) for t in state["_widget_data"]] == [[1, 2, 3]]
    assert state["_widget_layout"]["title"]["text"] == "risk"
    fig.data[0].y = [3, 2, 1]                      # later updates still work as for any FigureWidget
    assert list(fig.data[0].y) == [3, 2, 1] and len(opened) <= 2
    opened.clear()
    new_figure_widget(go.Figure())                 # a second figure: its own comm, no second bundle
    assert len(opened) == 1 and "_widget_data" in opened[0]["data"]["state"]


def test_the_bundle_travels_once_per_kernel_in_its_own_widget():
    """The small _esm loader hands over to plotly's bundle, which is the state of one shared
    PlotlyBundle widget that every figure names: the very file plotly ships, one cache key per
    plotly version, and no figure's own state carries it."""
    import pathlib

    import plotly

    from advexplore.widgets.figure_widget import PlotlyBundle, shared_bundle

    first, second = new_figure_widget(go.Figure()), new_figure_widget(go.Figure(go.Bar(y=[1])))
    bundle = shared_bundle()
    assert isinstance(bundle, PlotlyBundle) and first._plotly_bundle is bundle and second._plotly_bundle is bundle
    shipped = (pathlib.Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").read_text(encoding="utf-8")
    packed = bundle.get_state()["esm_gzip_base64"]
    assert gzip.decompress(base64.b64decode(packed)).decode("utf-8") == shipped and len(packed) < 2_500_000
    for fig in (first, second):
        state = fig.get_state()
        assert state["_plotly_bundle"] == f"IPY_MODEL_{bundle.model_id}"
        assert len(json.dumps(state, default=str)) < 50_000      # the figure, not the 5 MB bundle
        assert len(state["_esm"]) < 5_000 and f"__advexplore_plotly_widget_{plotly.__version__}" in state["_esm"]
        assert "export default" in state["_esm"] and "initialize" in state["_esm"] and "render" in state["_esm"]


def test_a_closed_bundle_is_made_again():
    import ipywidgets

    from advexplore.widgets.figure_widget import shared_bundle

    before = shared_bundle()
    ipywidgets.Widget.close_all()
    fig = new_figure_widget(go.Figure())
    assert fig._plotly_bundle is shared_bundle() and fig._plotly_bundle is not before
    assert fig._plotly_bundle.comm is not None


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("interactive", [True, False])
def test_executed_explorer_notebook_is_small(tmp_path, interactive):
    """Notebook 06 shows six live figures; executed with its widget state saved (papermill keeps
    it in the notebook's metadata) it must stay under 5 MB: the bundle is saved once."""
    import papermill as pm

    src = Path(__file__).resolve().parents[1] / "notebooks" / "06_adversarial_vs_regularized.ipynb"
    out = tmp_path / src.name
    pm.execute_notebook(str(src), str(out), kernel_name="python3", cwd=str(src.parent), progress_bar=False,
                        parameters={"interactive": interactive, "results_path": str(tmp_path / "r.json"),
                                    "n": 100, "width": 32, "depth": 2, "train_steps": 30})
    state = json.loads(out.read_text())["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    bundles = [m for m in state["state"].values() if "esm_gzip_base64" in m["state"]]
    assert len(bundles) == 1, "plotly's bundle must be saved exactly once"
    size = out.stat().st_size
    assert size <= 5_000_000, f"executed notebook is {size / 1e6:.1f} MB"
