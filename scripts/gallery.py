"""Regenerate the README gallery: one PNG per CPU notebook under docs/img/ (`make gallery`).

Each notebook is executed headless (papermill, as `advexplore run` does) at its own defaults,
or with the smaller parameters in GALLERY where the defaults take minutes on a 2-core machine;
its main figure is exported with kaleido, 900 px wide, at the figure's own height. Never draw
or edit these images by hand: change a notebook or its plots and run this again.

    python scripts/gallery.py [--only 01 06] [--out docs/img]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advexplore.app.run_notebooks import cpu_notebooks, run_one  # noqa: E402
from advexplore.plots.export import export_figure, notebook_figures  # noqa: E402

WIDTH = 900
MAX_BYTES = 150_000
# notebook number -> (parameters, index of the main figure among the figures it displays).
# Empty parameters: the notebook's defaults. Smaller ones only where the defaults take minutes.
GALLERY: dict[str, tuple[dict, int]] = {
    "01": ({}, 0),
    "02": ({}, 0),
    "03": ({}, 0),
    "04": ({"reps": 10}, 0),
    "05": ({}, 0),
    "06": ({}, 1),    # the gap R_reg − R_adv (figure 0: the risks themselves)
    "07": ({"n_values": [100, 400, 1600], "h_values": [8, 64, 256], "n_test": 5000}, 0),
    "08": ({}, 0),
    "09": ({"hidden": 256, "epochs": 100, "reps": 3, "n_test": 300}, 0),
    "10": ({"epochs": 10}, 0),
}


def gallery_image(notebook: Path, out_dir: Path, work: Path) -> Path:
    """Execute one notebook and write its main figure as out_dir/<notebook stem>.png."""
    key = notebook.name[:2]
    parameters, index = GALLERY.get(key, ({}, 0))
    record = run_one(notebook, work / key, parameters, html=False)
    if record["status"] != "ok":
        raise RuntimeError(f"{notebook.name} failed: {record['error']}")
    figures = notebook_figures(Path(record["output"]))
    if len(figures) <= index:
        raise RuntimeError(f"{notebook.name} displayed {len(figures)} figures, the gallery wants #{index}")
    fig = figures[index][1]
    path, = export_figure(fig, out_dir / notebook.stem, formats=("png",), width=WIDTH,
                          height=fig.layout.height or 500, scale=1)
    if path.stat().st_size > MAX_BYTES:
        raise RuntimeError(f"{path} is {path.stat().st_size / 1e3:.0f} kB (> {MAX_BYTES / 1e3:.0f} kB)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. --only 01 06")
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    notebooks = [nb for nb in cpu_notebooks() if not args.only or nb.name[:2] in args.only]
    with tempfile.TemporaryDirectory(prefix="advexplore-gallery-") as work:
        for nb in notebooks:
            start = time.perf_counter()
            path = gallery_image(nb, out_dir, Path(work))
            print(f"{time.perf_counter() - start:6.1f} s  {path.stat().st_size / 1e3:5.0f} kB  {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
