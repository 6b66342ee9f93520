"""`advexplore sweep`: the Cartesian product of parameter values, one headless run each, on a local
process pool or a Dask cluster, summarised as a table (summary.csv / summary.json)."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

from .run_notebooks import run_one, run_one_in_fresh_thread


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
    """One row per run: its parameters, status, error (the failed run's exception, else ""),
    seconds and every scalar it saved."""
    rows = []
    for r in records:
        row = {**r["parameters"], "status": r["status"], "error": r.get("error", ""), "seconds": r["seconds"]}
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
