"""Execute the CPU notebooks headless (papermill) into a run folder: `make run HEADLESS=1`.

    python -m advexplore.app.run_notebooks [--out runs] [--only 01 02] [-p key value ...]

Each notebook runs with its own small defaults, `interactive=False` and a `results_path`
inside the run folder; the GPU notebooks (notebooks/gpu/) are not run here. A summary
table (notebook, status, seconds, saved results) is printed and written as index.json.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def cpu_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """notebooks/NN_*.ipynb in order (the GPU notebooks live in notebooks/gpu/)."""
    return sorted(p for p in directory.glob("*.ipynb") if p.name[:2].isdigit())


def execute_notebook(src: Path, out_dir: Path, parameters: dict | None = None,
                     progress_bar: bool = False) -> dict:
    """Run one notebook headless; returns {notebook, status, seconds, output, results, error}."""
    import papermill as pm

    out_dir = Path(out_dir).resolve()  # results_path must not depend on the kernel's cwd
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / f"{src.stem}.json"
    params = {"interactive": False, "results_path": str(results_path), **(parameters or {})}
    start = time.perf_counter()
    record = {"notebook": src.name, "output": str(out_dir / src.name), "status": "ok", "error": ""}
    try:
        pm.execute_notebook(str(src), record["output"], parameters=params, kernel_name="python3",
                            cwd=str(src.parent), progress_bar=progress_bar)
    except Exception as err:  # a failed notebook is reported, the others still run
        record["status"] = "failed"
        if hasattr(err, "ename"):  # papermill's PapermillExecutionError: the kernel's own exception
            record["error"] = f"{err.ename}: {err.evalue}"
        else:
            record["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["results"] = json.loads(results_path.read_text()) if results_path.exists() else {}
    return record


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def export_html(executed: Path) -> Path:
    """The executed notebook as a standalone HTML page next to it, which loads nothing from any
    other host when opened (plots.export.offline_notebook_html)."""
    from ..plots.export import offline_notebook_html

    html = Path(executed).with_suffix(".html")
    html.write_text(offline_notebook_html(Path(executed)), encoding="utf-8")
    return html


def run_one_in_fresh_thread(*args, **kwargs) -> dict:
    """run_one in a new thread. A Dask worker may call tasks where an asyncio loop is already
    running, and nbclient (under papermill) refuses to start its own loop there ("This event
    loop is already running"); a fresh thread has no loop."""
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
            from ..plots.export import export_notebook_figures
            try:
                record["figures"] = [str(p) for p in export_notebook_figures(
                    Path(record["output"]), out_dir / "figures", formats=figures)]
            except Exception as err:  # figures are a bonus: the run itself still counts
                record["figures_error"] = f"{type(err).__name__}: {err}"
    (out_dir / "record.json").write_text(json.dumps(record, indent=1, default=str))
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="notebook name prefixes to run, e.g. --only 01 06 (default: all)")
    args = parser.parse_args(argv)
    from tqdm.auto import tqdm

    # Absolute: papermill resolves results_path in the kernel's cwd (notebooks/), not here.
    run_dir = Path(args.out).resolve() / datetime.now().strftime("%Y%m%d-%H%M%S")
    notebooks = [p for p in cpu_notebooks()
                 if not args.only or any(p.name.startswith(o) for o in args.only)]
    if not notebooks:
        parser.error(f"no notebook matches --only {args.only}; available: "
                     f"{[p.name for p in cpu_notebooks()]}")
    records = []
    for nb in tqdm(notebooks, desc="notebooks", unit="nb"):
        records.append(execute_notebook(nb, run_dir))
        tqdm.write(f"{records[-1]['status']:>6}  {records[-1]['seconds']:7.1f}s  {nb.name}")
    (run_dir / "index.json").write_text(json.dumps(records, indent=1))
    width = max(len(r["notebook"]) for r in records)
    print(f"\n{'notebook':<{width}}  status  seconds")
    for r in records:
        print(f"{r['notebook']:<{width}}  {r['status']:<6}  {r['seconds']:7.1f}  {r['error']}")
    print(f"\nexecuted notebooks and their results JSON are in {run_dir}/")
    return 0 if all(r["status"] == "ok" for r in records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
