"""What a run cost: wall time, device-hours (GPU-hours on CUDA: seconds × processes / 3600),
training images per second (counting each image once per epoch, whatever the attack's steps),
peak memory (CUDA allocator peak, max over ranks; on CPU the process's peak RSS) and
floating-point operations (one training step measured by advexplore.cost.count_flops, times
the images trained on)."""
from __future__ import annotations

import copy
import resource
import sys
import time
from dataclasses import asdict, dataclass

import torch

from ..cost import count_flops
from .finite import FiniteWatch


@dataclass
class CostReport:
    device: str = "cpu"
    processes: int = 1
    seconds: float = 0.0
    train_seconds: float = 0.0
    train_images: int = 0
    passes_per_image: int = 1
    peak_memory_gb: float = 0.0
    flops_per_step: int = 0   # one training step on step_images images (one rank's batch), measured
    step_images: int = 0

    @property
    def device_hours(self) -> float:
        return self.seconds * self.processes / 3600.0

    @property
    def images_per_s(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds > 0 else 0.0

    @property
    def flops_per_image(self) -> float:
        """Training FLOPs per image per epoch: flops_per_step / step_images (dense layers cost
        the same for every image of a batch)."""
        return self.flops_per_step / self.step_images if self.step_images else 0.0

    @property
    def train_flops(self) -> float:
        """FLOPs of the whole training: flops_per_image × train_images (all ranks, all epochs)."""
        return self.flops_per_image * self.train_images

    def as_dict(self) -> dict:
        d = asdict(self)
        d["device_hours"] = self.device_hours
        d["gpu_hours"] = self.device_hours if self.device.startswith("cuda") else 0.0
        d["images_per_s"] = self.images_per_s
        d["flops_per_image"] = self.flops_per_image
        d["train_flops"] = self.train_flops
        return d


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory of this process in GB: torch.cuda.max_memory_allocated on CUDA, else the
    peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1e9 if sys.platform == "darwin" else 1e6)


def passes_per_image(method: str, steps: int, xi: float) -> int:
    """Forward+backward passes per training image: PGD-k costs k + 1 (k attack steps and the
    update; +1 for ξ > 0), clean 1, the gradient-norm surrogate 2 (its backward is taken twice,
    through a graph that holds the first backward, so it costs more than two clean passes: see
    step_flops for what is measured)."""
    if method == "pgd":
        return steps + 1 + (1 if xi > 0 else 0)
    return 2 if method == "grad_norm" else 1


class Timer:
    """Wall-clock seconds with the device's queue drained first (one sync, at the ends only)."""

    def __init__(self, device: torch.device):
        self.device = device

    def now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def step_flops(trainer) -> dict:
    """{"flops_per_step", "step_images"}: the FLOPs (count_flops) of one training step of
    `trainer` (advexplore.gpu.trainer.Trainer.train_step: the attack, the forward, the backward
    and, for method "grad_norm", the double backward) on the first images of the training set, one
    rank's batch of them, at the ξ of the first epoch. The step runs on a copy of the network
    with its own optimiser, generator and finiteness watch, uncompiled and outside DDP, so the
    run itself (weights, optimiser state, random streams) is untouched."""
    cfg, dev = trainer.config, trainer.device
    shadow = copy.copy(trainer)
    net = copy.deepcopy(trainer.net).train()
    shadow.net = shadow.train_model = shadow.attack_model = net
    shadow.trainable = [p for p in net.parameters() if p.requires_grad]
    shadow.lasso_params = [p for p in shadow.trainable if p.dim() > 1]
    shadow.optimizer = torch.optim.SGD(shadow.trainable, lr=0.0)
    shadow.scaler = torch.amp.GradScaler(dev.type, enabled=False)
    shadow.watch = FiniteWatch(dev)
    shadow.generator = torch.Generator(device=dev).manual_seed(cfg.seed)
    b = min(max(1, cfg.batch_size // trainer.info.world_size), len(trainer.x_train))
    xb = trainer.x_train[:b].float().div(255).contiguous(memory_format=trainer.memory_format)
    with count_flops() as cost:
        shadow.train_step(xb, trainer.y_train[:b], cfg.xi_at(0))
    return {"flops_per_step": cost.flops, "step_images": b}
