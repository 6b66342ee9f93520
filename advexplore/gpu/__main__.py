"""Command line: `python -m advexplore.gpu --data-dir DIR --out-dir runs/x [...]`,
one flag per TrainConfig field (see --help), or `--config-json FILE`. Under torchrun:
`torchrun --standalone --nproc_per_node 8 -m advexplore.gpu --data-dir DIR ...`.

A refused run prints one line `python -m advexplore.gpu: error: ...` (no traceback) and exits with
  2  a bad flag or setting, missing or malformed data, or a resume with other settings than
     the checkpoint's (the line lists them),
  3  out_dir is in use by another run (the line names its PID and host),
  4  training diverged (a NaN/inf loss, gradient norm or weight; epoch and step named),
  1  a checkpoint that cannot be read or written (file named: corrupt, truncated, disk full).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from .._validate import NonFiniteError
from .checkpoint import CheckpointError, CheckpointSpaceError
from .config import TrainConfig
from .distributed import cleanup, init_distributed
from .runlock import OutDirLocked
from .trainer import Trainer

PROG = "python -m advexplore.gpu"
# errors of a run that started: exit status, one line each
RUN_ERRORS = ((OutDirLocked, 3), (NonFiniteError, 4), (CheckpointError, 1), (CheckpointSpaceError, 1))


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (the usage of 37 flags is what --help is for)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _floats(text: str) -> tuple:
    return tuple(float(v) for v in text.split(",") if v)


def _strings(text: str) -> tuple:
    return tuple(v for v in text.split(",") if v)


_bool.__name__, _floats.__name__, _strings.__name__ = "true/false", "comma-separated numbers", "comma-separated names"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG,
                                     description=TrainConfig.__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config-json", help="a JSON file of TrainConfig fields (flags given override it)")
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if f.name == "extra":
            continue
        default = getattr(defaults, f.name)
        kind = {bool: _bool, int: int, float: float, str: str}.get(type(default))
        if f.name == "milestones":
            kind = _floats
        elif f.name == "frozen":
            kind = _strings
        elif f.name == "step_size":
            kind = float
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                            help=f"(default {default!r})")
    return parser


def config_from_args(argv=None) -> TrainConfig:
    """The TrainConfig of the command line; a bad flag, field or --config-json file exits 2 with
    one line naming the flag, e.g. `error: --eps must be a finite number >= 0 (got -1.0)`."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    values = {}
    path = args.pop("config_json")
    if path:
        try:
            with open(path) as fh:
                values = json.load(fh)
        except (OSError, ValueError) as err:
            parser.error(f"--config-json {path}: {err.strerror if isinstance(err, OSError) else err}")
        if not isinstance(values, dict):
            parser.error(f"--config-json {path}: expected a JSON object of TrainConfig fields")
    values.update({k: v for k, v in args.items() if v is not None})
    try:
        return TrainConfig.from_dict(values)
    except (ValueError, TypeError) as err:
        field = getattr(err, "field", None)
        message = str(err)
        if field and message.startswith(field):
            message = "--" + field.replace("_", "-") + message[len(field):]
        parser.error(message)


def _refuse(code: int, err: BaseException, info=None) -> int:
    if info is None or info.is_main:
        print(f"{PROG}: error: {err}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = config_from_args(argv)
    try:
        info = init_distributed(config.device)
    except ValueError as err:  # e.g. --device cuda without a GPU
        return _refuse(2, err)
    try:
        try:  # what the user gave: data, precision/device, out_dir's state, the checkpoint to resume
            trainer = Trainer(config, info)
        except (ValueError, TypeError, FileNotFoundError) as err:  # DataFormatError is a ValueError
            return _refuse(2, err, info)
        results = trainer.fit()
        if info.is_main:
            final = results["final"]
            print(json.dumps({"clean_acc": final["clean_acc"], "robust_acc": final["robust_acc"],
                              "best_epoch": results["best_epoch"], "cost": results["cost"]}))
    except tuple(kind for kind, _ in RUN_ERRORS) as err:
        return _refuse(next(code for kind, code in RUN_ERRORS if isinstance(err, kind)), err, info)
    finally:
        cleanup(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
