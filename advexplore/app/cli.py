"""`advexplore` command line: list, run, sweep and teach the notebooks without opening Jupyter.

    advexplore list                                   # notebooks and their parameters
    advexplore run 01 -p eps 0.5 -p norm linf         # one headless run -> runs/<stem>-<time>/
    advexplore sweep 01 --grid eps=0.5,1 --grid d=5,10 [--jobs 2 | --scheduler tcp://host:8786]
    advexplore teach [01]                             # Voilà app: code hidden, sliders live

NOTEBOOK is a path, a file name in notebooks/, its stem, or its number prefix ("01").
Parameter values are parsed with the type declared in the notebook's `parameters` cell
(`eps: float = 1.0`); an unknown name or an unparsable value is rejected before anything runs.
Runs reuse `advexplore.app.run_notebooks.execute_notebook` (papermill, kernel python3,
`interactive=False`, `results_path` in the run folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .params import (RESERVED, ParameterError, check_range, list_notebooks, list_syntax, notebook_parameters, parse_grid,
                     parse_value, resolve_notebook, validate_parameters)
from .run_notebooks import NOTEBOOK_DIR, run_one, timestamp
from .sweep import format_table, summary_rows, sweep, write_summary
from .teach import Classroom, TeachError, check_listen_address, handout_urls, new_token, serve, teach_environment, voila_command

__all__ = ["ParameterError", "list_notebooks", "main", "notebook_parameters", "parse_grid", "parse_value",
           "resolve_notebook", "run_one", "summary_rows", "sweep", "validate_parameters", "voila_command"]


def cmd_list(args) -> int:
    for nb in list_notebooks(Path(args.dir)):
        print(nb.stem)
        for name, p in notebook_parameters(nb).items():
            if name in RESERVED:
                continue
            note = f"  # {p['help']}" if p["help"] else ""
            if p["type"] in ("list", "tuple"):
                note += f"  [{list_syntax(name)}]"
            print(f"    {name}: {p['type']} = {p['default']}{note}")
    return 0


def _params_from_pairs(pairs) -> dict[str, str]:
    return {key: value for key, value in (pairs or [])}


def cmd_run(args) -> int:
    notebook = resolve_notebook(args.notebook, Path(args.dir))
    params = validate_parameters(notebook, _params_from_pairs(args.parameter))
    out_dir = Path(args.out) / f"{notebook.stem}-{timestamp()}"
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
    # Validate every grid value (name, type, range) before the first run starts.
    validate_parameters(notebook, {k: v[0] for k, v in raw_grid.items()})
    grid = {k: [check_range(notebook, k, parse_value(k, v, declared[k]["type"])) for v in values]
            for k, values in raw_grid.items()}
    grid.update({k: [v] for k, v in fixed.items() if k not in grid})
    out_dir = Path(args.out) / f"{notebook.stem}-sweep-{timestamp()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    records = sweep(notebook, grid, out_dir, jobs=args.jobs, scheduler=args.scheduler,
                    progress=not args.quiet)
    rows = summary_rows(records)
    write_summary(rows, out_dir)
    print(format_table(rows))
    for row in rows:
        if row["error"]:
            print(f"failed: {', '.join(f'{k}={row[k]!r}' for k in grid)}: {row['error']}", file=sys.stderr)
    print(f"\nsweep folder: {out_dir} (summary.csv, summary.json, one sub-folder per run)")
    return 0 if all(r["status"] == "ok" for r in records) else 1


def cmd_teach(args) -> int:
    notebook = resolve_notebook(args.notebook, Path(args.dir)) if args.notebook else None
    token = new_token() if args.token == "random" else args.token
    check_listen_address(args.ip, token)  # before anything starts
    classroom = Classroom(ip=args.ip, token=token, cull_idle=args.cull_idle, cull_unconnected=args.cull_unconnected,
                          cull_connected=args.cull_connected, cull_interval=args.cull_interval,
                          fork=not args.no_fork, pool=args.pool, progressive=args.progressive, kernel_threads=args.kernel_threads,
                          refit_slots=args.refit_slots)
    cmd = voila_command(notebook, args.port, Path(args.dir), token=token, open_browser=not args.no_browser,
                        classroom=classroom)
    print("serving with Voilà (code hidden, widgets live):", " ".join(cmd))
    print("students open:", *handout_urls(args.ip, args.port, token), sep="\n    ", flush=True)
    return serve(cmd, teach_environment(classroom), notebook.parent if notebook else Path(args.dir))


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

    p = sub.add_parser("teach", help="serve a notebook (or all) with Voilà: code hidden, sliders live",
                       description="Serve a notebook (or the folder) as Voilà apps for a class: kernels end "
                                   "when students leave, start forked from one warm process, and no request "
                                   "leaves the machine. See docs/teaching.md.")
    p.add_argument("notebook", nargs="?", default=None)
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only); any other needs --token")
    p.add_argument("--token", default=None, metavar="SECRET",
                   help='required with --ip other than 127.0.0.1; "random" makes one. The URL to hand out '
                        "is printed with it")
    p.add_argument("--cull-idle", type=int, default=Classroom.cull_idle, metavar="SECONDS",
                   help="end a closed page's kernel this long after its last activity (default %(default)s; 0: never)")
    p.add_argument("--cull-unconnected", type=int, default=Classroom.cull_unconnected, metavar="SECONDS",
                   help="end a kernel whose page never connected (a fetch, a crawler) after this long "
                        "(default %(default)s; 0: never)")
    p.add_argument("--cull-connected", type=int, default=Classroom.cull_connected, metavar="SECONDS",
                   help="also end kernels of open pages idle this long (default 0: never)")
    p.add_argument("--cull-interval", type=int, default=Classroom.cull_interval, metavar="SECONDS",
                   help="seconds between two checks (default %(default)s)")
    p.add_argument("--no-fork", action="store_true",
                   help="start every kernel as a fresh process instead of forking a warm one (slower, more memory)")
    p.add_argument("--pool", type=int, default=Classroom.pool, metavar="N",
                   help="keep N pages pre-executed (Voilà's preheat_kernel/pool_size; default 0: off)")
    p.add_argument("--progressive", action=argparse.BooleanOptionalAction, default=None,
                   help="show each output as soon as its cell has run (Voilà's progressive rendering; "
                        "default: on, unless --pool)")
    p.add_argument("--kernel-threads", type=int, default=Classroom.kernel_threads, metavar="N",
                   help="torch/BLAS threads per kernel (default %(default)s: the kernels share the cores)")
    p.add_argument("--refit-slots", type=int, default=Classroom.refit_slots, metavar="N",
                   help="training runs at once across all pages; the others queue (default 0: one per CPU)")
    p.set_defaults(func=cmd_teach)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ParameterError, TeachError) as err:
        parser.exit(2, f"advexplore {args.command}: error: {err}\n")


if __name__ == "__main__":
    raise SystemExit(main())
