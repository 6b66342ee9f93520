"""Execute the CPU notebooks headless (papermill) into a run folder: `make run HEADLESS=1`.

    python -m advexplore.run_notebooks [--out runs] [--only 01 02] [-p key value ...]

Each notebook runs with its own small defaults, `interactive=False` and a `results_path`
inside the run folder; the GPU notebooks (notebooks/gpu/) are not run here. A summary
table (notebook, status, seconds, saved results) is printed and written as index.json.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def cpu_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """notebooks/NN_*.ipynb in order (the GPU notebooks live in notebooks/gpu/)."""
    return sorted(p for p in directory.glob("*.ipynb") if p.name[:2].isdigit())


def execute_notebook(src: Path, out_dir: Path, parameters: dict | None = None,
                     progress_bar: bool = False) -> dict:
    """Run one notebook headless; returns {notebook, status, seconds, output, results, error}."""
    import papermill as pm

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
        record["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["results"] = json.loads(results_path.read_text()) if results_path.exists() else {}
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="notebook name prefixes to run, e.g. --only 01 06 (default: all)")
    args = parser.parse_args(argv)
    from tqdm.auto import tqdm

    run_dir = Path(args.out) / datetime.now().strftime("%Y%m%d-%H%M%S")
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
