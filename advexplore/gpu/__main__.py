"""Command line: `python -m advexplore.gpu --data-dir DIR --out-dir runs/x [...]`,
one flag per TrainConfig field (see --help), or `--config-json FILE`. Under torchrun:
`torchrun --standalone --nproc_per_node 8 -m advexplore.gpu --data-dir DIR ...`."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

from .config import TrainConfig
from .distributed import cleanup, init_distributed
from .trainer import Trainer


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m advexplore.gpu",
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
    args = vars(build_parser().parse_args(argv))
    values = {}
    if args.pop("config_json"):
        with open(build_parser().parse_args(argv).config_json) as fh:
            values = json.load(fh)
    values.update({k: v for k, v in args.items() if v is not None})
    return TrainConfig.from_dict(values)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = config_from_args(argv)
    info = init_distributed(config.device)
    try:
        results = Trainer(config, info).fit()
        if info.is_main:
            final = results["final"]
            print(json.dumps({"clean_acc": final["clean_acc"], "robust_acc": final["robust_acc"],
                              "best_epoch": results["best_epoch"], "cost": results["cost"]}))
    finally:
        cleanup(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
