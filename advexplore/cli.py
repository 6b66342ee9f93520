"""`advexplore` command line: list, run, sweep and teach the notebooks without opening Jupyter.

    advexplore list                                   # notebooks and their parameters
    advexplore run 01 -p eps 0.5 -p norm linf         # one headless run -> runs/<stem>-<time>/
    advexplore sweep 01 --grid eps=0.5,1 --grid d=5,10 [--jobs 2 | --scheduler tcp://host:8786]
    advexplore teach [01]                             # Voilà app: code hidden, sliders live

NOTEBOOK is a path, a file name in notebooks/, its stem, or its number prefix ("01").
Parameter values are parsed with the type declared in the notebook's `parameters` cell
(`eps: float = 1.0`); an unknown name or an unparsable value is rejected before anything runs.
Runs reuse `advexplore.run_notebooks.execute_notebook` (papermill, kernel python3,
`interactive=False`, `results_path` in the run folder).
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from .run_notebooks import NOTEBOOK_DIR, cpu_notebooks, execute_notebook

# Set by the runner itself; a user never passes them.
RESERVED = ("interactive", "results_path")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class ParameterError(ValueError):
    """A parameter name or value the notebook does not accept (message names both)."""


# ---------------------------------------------------------------- notebooks and parameters
def list_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The repository's NN_*.ipynb (run_notebooks.cpu_notebooks); any *.ipynb in another --dir."""
    directory = Path(directory)
    if directory.resolve() == NOTEBOOK_DIR.resolve():
        return cpu_notebooks(directory)
    return sorted(directory.glob("*.ipynb"))


def resolve_notebook(name: str, directory: Path = NOTEBOOK_DIR) -> Path:
    """A path, a file name, a stem or a number prefix ("01") -> the notebook's path."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    candidates = list_notebooks(directory)
    for nb in candidates:
        if name in (nb.name, nb.stem):
            return nb
    prefixed = [nb for nb in candidates if nb.name.startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise SystemExit(f"advexplore: no single notebook matches {name!r}; "
                     f"available: {', '.join(nb.stem for nb in candidates)}")


def notebook_parameters(notebook: Path) -> dict[str, dict]:
    """{name: {"type": "float", "default": "1.0", "help": ...}} from the `parameters` cell."""
    import papermill as pm

    spec = pm.inspect_notebook(str(notebook))
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in spec.items()}


def parse_value(name: str, text: str, type_name: str):
    """Parse a command-line string with the notebook's declared type; ParameterError if not."""
    def fail(why: str = ""):
        raise ParameterError(f"parameter {name!r} expects type {type_name}, got {text!r}{why}")

    t = (type_name or "").strip()
    try:
        if t == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            fail(" (use true/false)")
        if t == "int":
            return int(text)
        if t == "float":
            return float(text)
        if t == "str":
            return text
        if t in ("list", "dict", "tuple"):
            value = ast.literal_eval(text)
            if type(value).__name__ != t:
                fail()
            return value
    except (ValueError, SyntaxError):
        fail()
    # No (or an exotic) type hint: a Python literal if it is one, else the string.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def validate_parameters(notebook: Path, raw: dict[str, str]) -> dict:
    """Check names against the parameters cell and parse values; ParameterError on the first bad one."""
    declared = notebook_parameters(notebook)
    parsed = {}
    for name, text in raw.items():
        if name in RESERVED:
            raise ParameterError(f"parameter {name!r} is set by the runner; do not pass it")
        if name not in declared:
            choices = ", ".join(f"{k}: {v['type']}" for k, v in declared.items() if k not in RESERVED)
            raise ParameterError(f"unknown parameter {name!r} for {notebook.name}; it accepts: {choices}")
        parsed[name] = parse_value(name, text, declared[name]["type"])
    return parsed


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """["eps=0.5,1", "d=5,10"] -> {"eps": ["0.5", "1"], "d": ["5", "10"]} (values still strings).

    A list-valued parameter takes `;` between values: --grid "ns=[10,20];[30,40]".
    """
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ParameterError(f"--grid expects key=v1,v2,..., got {item!r}")
        split = values.split(";") if values.lstrip().startswith("[") else values.split(",")
        grid[key.strip()] = [v.strip() for v in split]
    return grid


# ---------------------------------------------------------------- running
def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def _plotly_outputs_as_html(nb) -> None:
    """nbconvert cannot render plotly's JSON output: add a text/html version of each figure,
    plotly.js embedded once (the page then works offline)."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from .plots.export import PLOTLY_MIME

    first = True
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data and "text/html" not in data:
                data["text/html"] = pio.to_html(go.Figure(data[PLOTLY_MIME]), full_html=False,
                                                include_plotlyjs=first)
                first = False


def export_html(executed: Path) -> Path:
    """The executed notebook as a standalone HTML page next to it (nbconvert)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    _plotly_outputs_as_html(nb)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def run_one_in_fresh_thread(*args, **kwargs) -> dict:
    """run_one in a new thread. A Dask worker may call tasks where an asyncio loop is already
    running, and nbclient (under papermill) refuses to start its own loop there ("This event
    loop is already running"); a fresh thread has no loop."""
    import threading

    outcome: dict = {}

    def target():
        try:
            outcome["record"] = run_one(*args, **kwargs)
        except BaseException as err:  # re-raised in the caller's thread below
            outcome["error"] = err

    thread = threading.Thread(target=target, name="advexplore-run")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["record"]


def run_one(notebook: str | Path, out_dir: str | Path, parameters: dict | None = None,
            progress_bar: bool = False, html: bool = True, figures: tuple[str, ...] = ()) -> dict:
    """Execute one notebook into out_dir (executed .ipynb, results .json, optional .html/figures).

    Returns run_notebooks' record plus "parameters", "html" and "figures". Top-level so a
    process pool or a Dask worker can pickle it.
    """
    # Absolute paths: papermill chdir()s into the notebook's folder, and that is process-wide,
    # so threaded Dask workers (LocalCluster(processes=False)) would otherwise race on it.
    notebook, out_dir = Path(notebook).resolve(), Path(out_dir).resolve()
    record = execute_notebook(notebook, out_dir, parameters, progress_bar=progress_bar)
    record["parameters"] = dict(parameters or {})
    record["html"], record["figures"] = "", []
    if Path(record["output"]).exists():
        if html:
            record["html"] = str(export_html(Path(record["output"])))
        if figures:
            from .plots.export import export_notebook_figures
            try:
                record["figures"] = [str(p) for p in export_notebook_figures(
                    Path(record["output"]), out_dir / "figures", formats=figures)]
            except Exception as err:  # figures are a bonus: the run itself still counts
                record["figures_error"] = f"{type(err).__name__}: {err}"
    (out_dir / "record.json").write_text(json.dumps(record, indent=1, default=str))
    return record


def sweep(notebook: str | Path, grid: dict[str, list], out_dir: str | Path, jobs: int = 2,
          scheduler: str | None = None, progress: bool = True) -> list[dict]:
    """Run the Cartesian product of `grid` (already-parsed values) in parallel.

    Local process pool (concurrent.futures) by default; a Dask cluster when `scheduler` is
    its address. Returns the records in grid order; each run has its own sub-folder.
    """
    from tqdm.auto import tqdm

    notebook, out_dir = Path(notebook).resolve(), Path(out_dir).resolve()
    keys = list(grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    dirs = [out_dir / f"run{i:03d}" for i in range(len(combos))]
    records: list[dict | None] = [None] * len(combos)
    bar = tqdm(total=len(combos), desc=f"sweep {notebook.stem}", unit="run", disable=not progress)
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler) as client:
            futures = {client.submit(run_one_in_fresh_thread, str(notebook), str(d), c, pure=False): i
                       for i, (c, d) in enumerate(zip(combos, dirs))}
            for fut in as_completed(futures):
                records[futures[fut]] = fut.result()
                bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(run_one, str(notebook), str(d), c): i
                       for i, (c, d) in enumerate(zip(combos, dirs))}
            for fut in as_completed(futures):
                records[futures[fut]] = fut.result()
                bar.update()
    bar.close()
    return records  # type: ignore[return-value]


def summary_rows(records: list[dict]) -> list[dict]:
    """One row per run: its parameters, status, seconds and every scalar it saved."""
    rows = []
    for r in records:
        row = {**r["parameters"], "status": r["status"], "seconds": r["seconds"]}
        for key, value in r["results"].items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                row[key] = value
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table; floats with 4 significant digits."""
    if not rows:
        return "(no runs)"
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def write_summary(rows: list[dict], out_dir: Path) -> None:
    import csv

    (out_dir / "summary.json").write_text(json.dumps(rows, indent=1, default=str))
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(out_dir / "summary.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# ---------------------------------------------------------------- commands
def cmd_list(args) -> int:
    for nb in list_notebooks(Path(args.dir)):
        print(nb.stem)
        for name, p in notebook_parameters(nb).items():
            if name in RESERVED:
                continue
            note = f"  # {p['help']}" if p["help"] else ""
            print(f"    {name}: {p['type']} = {p['default']}{note}")
    return 0


def _params_from_pairs(pairs) -> dict[str, str]:
    return {key: value for key, value in (pairs or [])}


def cmd_run(args) -> int:
    notebook = resolve_notebook(args.notebook, Path(args.dir))
    params = validate_parameters(notebook, _params_from_pairs(args.parameter))
    out_dir = Path(args.out) / f"{notebook.stem}-{_timestamp()}"
    figures = tuple(f for f in args.figures.split(",") if f) if args.figures else ()
    record = run_one(notebook, out_dir, params, progress_bar=not args.quiet, figures=figures)
    print(f"{record['status']}  {record['seconds']:.1f}s  {notebook.name}  {record['error']}")
    for key, value in record["results"].items():
        if isinstance(value, (int, float, str, bool)):
            print(f"    {key} = {value}")
    if record.get("figures_error"):
        print(f"figures not exported: {record['figures_error']}", file=sys.stderr)
    print(f"run folder: {out_dir}")
    return 0 if record["status"] == "ok" else 1


def cmd_sweep(args) -> int:
    notebook = resolve_notebook(args.notebook, Path(args.dir))
    raw_grid = parse_grid(args.grid)
    declared = notebook_parameters(notebook)
    fixed = validate_parameters(notebook, _params_from_pairs(args.parameter))
    # Validate every grid value before the first run starts.
    validate_parameters(notebook, {k: v[0] for k, v in raw_grid.items()})
    grid = {k: [parse_value(k, v, declared[k]["type"]) for v in values] for k, values in raw_grid.items()}
    grid.update({k: [v] for k, v in fixed.items() if k not in grid})
    out_dir = Path(args.out) / f"{notebook.stem}-sweep-{_timestamp()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    records = sweep(notebook, grid, out_dir, jobs=args.jobs, scheduler=args.scheduler,
                    progress=not args.quiet)
    rows = summary_rows(records)
    write_summary(rows, out_dir)
    print(format_table(rows))
    print(f"\nsweep folder: {out_dir} (summary.csv, summary.json, one sub-folder per run)")
    return 0 if all(r["status"] == "ok" for r in records) else 1


def voila_command(notebook: Path | None, port: int, directory: Path, token: str | None = None,
                  open_browser: bool = False) -> list[str]:
    """The Voilà command line that serves one notebook (or the folder) as an app, code hidden."""
    exe = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")
    cmd = [exe] if exe else [sys.executable, "-m", "voila"]
    cmd += [str(notebook if notebook else directory), f"--port={port}", "--Voila.ip=127.0.0.1",
            "--strip_sources=True", "--theme=light"]
    if not open_browser:
        cmd.append("--no-browser")
    if token is not None:
        cmd.append(f"--token={token}")
    return cmd


def cmd_teach(args) -> int:
    notebook = resolve_notebook(args.notebook, Path(args.dir)) if args.notebook else None
    cmd = voila_command(notebook, args.port, Path(args.dir), open_browser=not args.no_browser)
    print("serving with Voilà (code hidden, widgets live):", " ".join(cmd))
    return subprocess.call(cmd, cwd=str(notebook.parent if notebook else Path(args.dir)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advexplore", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(NOTEBOOK_DIR), help="notebook folder (default: the repository's)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="notebooks and their parameters (type = default)")
    p.set_defaults(func=cmd_list)

    def common(p):
        p.add_argument("notebook", help='path, name, stem or number prefix, e.g. "01"')
        p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                       help="set a parameter (repeatable); parsed with its declared type")
        p.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("run", help="execute one notebook headless into runs/<stem>-<time>/")
    common(p)
    p.add_argument("--figures", default="", metavar="png,svg",
                   help="also export every plotly figure in these formats (needs kaleido + chromium)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run the Cartesian product of --grid values in parallel")
    common(p)
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                   help="values of one parameter (repeatable); list values: KEY=[..];[..]")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:8786) instead of the local pool")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("teach", help="serve a notebook (or all) with Voilà: code hidden, sliders live")
    p.add_argument("notebook", nargs="?", default=None)
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(func=cmd_teach)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as err:
        parser.exit(2, f"advexplore {args.command}: error: {err}\n")


if __name__ == "__main__":
    raise SystemExit(main())
