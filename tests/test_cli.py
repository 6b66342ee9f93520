"""The `advexplore` CLI: list, run, sweep (process pool and Dask), and bad parameters
rejected before anything runs. Uses tests/data/tiny_params.ipynb (value = a * n), so the
expected numbers are the product computed here, not output recorded from the code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from advexplore.app import cli

DATA = Path(__file__).resolve().parent / "data"
ROOT = DATA.parents[1]
TINY = DATA / "tiny_params.ipynb"


def test_list_shows_parameters_with_types_and_defaults(capsys):
    assert cli.main(["--dir", str(DATA), "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny_params" in out
    for line in ("a: float = 1.5", "n: int = 2", 'label: str = "x"', "flag: bool = False", "ns: list = [1, 2]"):
        assert line in out
    assert "results_path" not in out and "interactive" not in out  # set by the runner


def test_list_covers_repository_notebooks():
    names = [nb.stem for nb in cli.list_notebooks()]
    assert any(n.startswith("01_") for n in names) and any(n.startswith("06_") for n in names)
    params = cli.notebook_parameters(cli.resolve_notebook("06"))
    assert params["eps"]["type"] == "float"


@pytest.mark.parametrize("name,value,message", [
    ("n", "2.5", "'n' expects type int"),
    ("a", "abc", "'a' expects type float"),
    ("flag", "maybe", "'flag' expects type bool"),
    ("ns", "3", "'ns' expects type list"),
    ("zz", "1", "unknown parameter 'zz'"),
    ("results_path", "/tmp/x", "'results_path' is set by the runner"),
])
def test_bad_parameters_rejected_before_running(tmp_path, capsys, name, value, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--dir", str(DATA), "run", "tiny_params", "-p", name, value, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "nothing may run when a parameter is bad"


def test_bad_grid_value_rejected_before_sweeping(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--dir", str(DATA), "sweep", "tiny_params", "--grid", "n=1,x", "--out", str(tmp_path)])
    assert "'n' expects type int, got 'x'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_parse_value_types():
    assert cli.parse_value("n", "3", "int") == 3
    assert cli.parse_value("a", "1e-3", "float") == pytest.approx(1e-3)
    assert cli.parse_value("flag", "True", "bool") is True
    assert cli.parse_value("ns", "[1, 2, 3]", "list") == [1, 2, 3]
    assert cli.parse_value("norm", "linf", "str") == "linf"
    assert cli.parse_grid(["a=1,2", "ns=[1,2];[3]"]) == {"a": ["1", "2"], "ns": ["[1,2]", "[3]"]}


@pytest.mark.notebook
def test_run_writes_notebook_html_and_results(tmp_path, capsys):
    code = cli.main(["--dir", str(DATA), "run", "tiny_params", "-p", "a", "2.5", "-p", "n", "4",
                     "-p", "flag", "true", "-p", "ns", "[5, 6]", "--out", str(tmp_path), "-q"])
    assert code == 0
    (run_dir,) = list(tmp_path.iterdir())
    assert run_dir.name.startswith("tiny_params-")
    results = json.loads((run_dir / "tiny_params.json").read_text())
    assert results["value"] == pytest.approx(2.5 * 4)
    assert results["n"] == 4 and isinstance(results["n"], int) and results["flag"] is True
    assert results["total"] == 11
    assert (run_dir / "tiny_params.ipynb").exists()
    html = (run_dir / "tiny_params.html").read_text()
    assert "<html" in html.lower() and "Plotly.newPlot" in html  # the figure is drawn in the page
    assert "value = 10.0" in capsys.readouterr().out


def _check_sweep(records, rows):
    expected = {(a, n): a * n for a in (0.5, 2.0) for n in (1, 3)}
    assert len(records) == 4
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert {(row["a"], row["n"]): row["value"] for row in rows} == expected
    # the runs are independent: each has its own folder
    assert len({Path(r["output"]).parent for r in records}) == 4


@pytest.mark.notebook
@pytest.mark.slow
def test_sweep_of_four_on_a_process_pool(tmp_path, capsys):
    code = cli.main(["--dir", str(DATA), "sweep", "tiny_params", "--grid", "a=0.5,2", "--grid", "n=1,3",
                     "-p", "label", "swept", "--jobs", "2", "--out", str(tmp_path), "-q"])
    assert code == 0
    (sweep_dir,) = list(tmp_path.iterdir())
    rows = json.loads((sweep_dir / "summary.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("run*/record.json"))]
    _check_sweep(records, rows)
    assert all(row["label"] == "swept" for row in rows)
    assert (sweep_dir / "summary.csv").read_text().splitlines()[0].startswith("a,n,label,status")
    table = capsys.readouterr().out
    assert "value" in table and "6" in table  # 2.0 * 3


@pytest.mark.notebook
@pytest.mark.slow
def test_sweep_of_four_on_a_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="the sweep extra (dask[distributed]) is not installed")
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        records = cli.sweep(TINY, {"a": [0.5, 2.0], "n": [1, 3]}, tmp_path,
                            scheduler=cluster.scheduler_address, progress=False)
    _check_sweep(records, cli.summary_rows(records))


def test_teach_command_hides_code():
    cmd = cli.voila_command(TINY, 8899, DATA, token="t")
    assert "--strip_sources=True" in cmd and "--port=8899" in cmd and "--no-browser" in cmd
    assert str(TINY) in cmd


# ---------------------------------------------------------------- figure export
def _needs_kaleido():
    pytest.importorskip("kaleido", reason="figure export needs kaleido (the figures extra, part of dev)")
    import shutil
    if not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome", "chrome")):
        pytest.skip("kaleido needs a Chrome/Chromium to render; none on PATH (apt-get install chromium)")


def _styled_figure():
    import plotly.graph_objects as go
    from advexplore.plots.style import apply_style

    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1.0, 2.0, 4.0], name="risk"))
    fig.update_xaxes(title="attack radius ε")
    return apply_style(fig, title="export check")


def test_export_figure_writes_png_and_svg(tmp_path):
    _needs_kaleido()
    from advexplore.plots.export import export_figure

    paths = export_figure(_styled_figure(), tmp_path / "sub" / "fig", formats=("png", "svg"), scale=1)
    png, svg = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    # PNG width from the IHDR chunk: the figure's 700 px default at scale 1
    assert int.from_bytes(png[16:20], "big") == 700
    text = svg.decode()
    assert "<svg" in text and "export check" in text
    assert "#0072B2".lower() in text.lower() or "rgb(0, 114, 178)" in text  # Okabe–Ito blue, first trace


def test_export_rejects_bad_arguments(tmp_path):
    from advexplore.plots.export import export_figure

    with pytest.raises(ValueError, match="formats"):
        export_figure(_styled_figure(), tmp_path / "f", formats=("gif",))
    with pytest.raises(TypeError, match="fig"):
        export_figure({"data": []}, tmp_path / "f")


def test_export_notebook_figures_from_outputs(tmp_path):
    _needs_kaleido()
    import nbformat
    from advexplore.plots.export import PLOTLY_MIME, export_notebook_figures

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig")
    cell.outputs = [nbformat.v4.new_output("display_data", data={PLOTLY_MIME: _styled_figure().to_plotly_json()})]
    nb.cells = [nbformat.v4.new_markdown_cell("x"), cell]
    paths = export_notebook_figures(nb, tmp_path, formats=("svg",))
    assert [p.name for p in paths] == ["cell01_0_export_check.svg"]
    assert "<svg" in paths[0].read_text()


# ---------------------------------------------------------------- value ranges and failed runs
@pytest.mark.parametrize("argv,message", [
    (["--dir", str(DATA), "run", "tiny_params", "-p", "n", "0"],
     "parameter 'n' of tiny_params.ipynb must be an integer >= 1, got 0"),
    (["--dir", str(DATA), "run", "tiny_params", "-p", "ns", "[1, -2]"],
     "parameter 'ns' of tiny_params.ipynb must be an integer >= 1, got -2 (in [1, -2])"),
    (["run", "01", "-p", "d", "0"], "parameter 'd' of 01_linear_adversarial_risk.ipynb must be an integer >= 1"),
    (["run", "01", "-p", "eps", "nan"], "parameter 'eps' of 01_linear_adversarial_risk.ipynb must be a finite number >= 0, got nan"),
    (["run", "01", "-p", "norm", "l1"], "must be 'l2' or 'linf', got 'l1'"),
    (["run", "02", "-p", "lr", "0"], "parameter 'lr' of 02_surrogate_smoothing.ipynb must be a finite number > 0"),
    (["--dir", str(DATA), "sweep", "tiny_params", "--grid", "n=1,0"], "parameter 'n' of tiny_params.ipynb must be"),
])
def test_values_out_of_range_are_refused_before_a_kernel_starts(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv + ["--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir()), "nothing may run when a value is out of range"


def test_every_range_names_a_real_parameter_and_every_default_is_in_range():
    from advexplore.app.params import NOTEBOOK_RANGES, RANGES, check_range
    from advexplore.app.run_notebooks import NOTEBOOK_DIR

    notebooks = cli.list_notebooks() + sorted((NOTEBOOK_DIR / "gpu").glob("*.ipynb"))
    declared = {}
    for nb in notebooks:
        for name, p in cli.notebook_parameters(nb).items():
            declared.setdefault(name, []).append(nb)
            check_range(nb, name, cli.parse_value(name, p["default"].strip('"'), p["type"]))  # defaults pass
    assert set(RANGES) <= set(declared), set(RANGES) - set(declared)
    for prefix, rules in NOTEBOOK_RANGES.items():
        matching = [nb for nb in notebooks if nb.stem.startswith(prefix)]
        assert matching and all(name in cli.notebook_parameters(nb) for nb in matching for name in rules), prefix


def test_sweep_rows_and_table_carry_a_failed_runs_error():
    records = [{"parameters": {"a": 1.0}, "status": "ok", "error": "", "seconds": 1.0, "results": {"value": 2.0}},
               {"parameters": {"a": 2.0}, "status": "failed", "error": "ZeroDivisionError: division by zero",
                "seconds": 0.5, "results": {}}]
    rows = cli.summary_rows(records)
    assert [r["error"] for r in rows] == ["", "ZeroDivisionError: division by zero"]
    table = cli.format_table(rows)
    assert table.splitlines()[0].split()[:3] == ["a", "status", "error"]
    assert "failed  ZeroDivisionError: division by zero" in table


@pytest.mark.notebook
def test_a_failing_run_reports_the_kernels_exception(tmp_path):
    from advexplore.app.run_notebooks import execute_notebook

    record = execute_notebook(TINY, tmp_path, {"ns": [1, "x"]})  # sum([1, "x"]) fails in the kernel
    assert record["status"] == "failed"
    assert record["error"] == "TypeError: unsupported operand type(s) for +: 'int' and 'str'"
    assert cli.summary_rows([{**record, "parameters": {"ns": [1, "x"]}}])[0]["error"] == record["error"]


def test_list_values_show_their_syntax(capsys):
    """`-p ns 30,100` is refused with the way a list is written; `advexplore list` shows it too."""
    with pytest.raises(SystemExit):
        cli.main(["--dir", str(DATA), "run", "tiny_params", "-p", "ns", "30,100"])
    assert '-p ns "[30, 100]"' in capsys.readouterr().err
    cli.main(["--dir", str(DATA), "list"])
    assert any(line.strip().startswith("ns: list") and '-p ns "[30, 100]"' in line
               for line in capsys.readouterr().out.splitlines())


@pytest.mark.notebook
@pytest.mark.parametrize("value,message", [
    (2.5, "parameter 'd' of 01_linear_adversarial_risk expects type int, got 2.5 (float)"),
    (0, "parameter 'd' of 01_linear_adversarial_risk must be an integer >= 1, got 0"),
])
def test_plain_papermill_gets_the_same_parameter_errors(tmp_path, value, message):
    """Every notebook checks its parameters right after papermill's injected cell, so a user who
    runs papermill directly is refused as `advexplore run` would refuse (before any computing)."""
    import papermill as pm

    notebook = ROOT / "notebooks" / "01_linear_adversarial_risk.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                            parameters={"interactive": False, "d": value}, cwd=str(notebook.parent))
    assert info.value.ename == "ParameterError" and message in info.value.evalue


def test_every_notebook_checks_its_parameters_after_the_parameters_cell():
    import json

    for nb_path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        cells = json.loads(nb_path.read_text())["cells"]
        i = next(k for k, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        assert f'check_parameters(globals(), "{nb_path.stem}")' in "".join(cells[i + 1]["source"]), nb_path
