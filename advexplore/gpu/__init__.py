"""GPU adversarial training of WideResNets on CIFAR-10 (paper 002 Tables 1–2, Fig. 2; paper 000's
WRN evidence): a config, a resumable torchrun-ready trainer, evaluation and a cost report.
Run `python -m advexplore.gpu --help`, or the notebooks in notebooks/gpu/ (their helpers:
advexplore.experiments.gpu; their figures: advexplore.plots.gpu)."""
from .attack import grad_norm_loss, train_pgd
from .augment import random_crop_flip
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .report import CostReport
from .data import load_split, write_smoke_cifar
from .distributed import DistInfo, init_distributed, launch, torchrun_command
from .evaluate import autoattack_accuracy, evaluate
from .trainer import Trainer, build_model, train

__all__ = ["CostReport", "DistInfo", "TrainConfig", "Trainer", "autoattack_accuracy", "build_model", "evaluate",
           "grad_norm_loss", "init_distributed", "launch", "load_checkpoint", "load_split", "random_crop_flip",
           "rng_state", "run", "save_checkpoint", "set_rng_state", "torchrun_command", "train", "train_pgd",
           "write_smoke_cifar"]


def run(config: TrainConfig, devices: int = 1, **launch_kwargs) -> dict:
    """Train `config` in this process (devices == 1) or under torchrun with `devices`
    processes (one per GPU; gloo processes on CPU). Returns the results dict."""
    if not isinstance(devices, int) or devices < 1:
        raise ValueError(f"devices must be a positive int, got {devices!r}")
    return train(config) if devices == 1 else launch(config, devices, **launch_kwargs)
