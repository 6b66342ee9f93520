"""What a run cost: wall time, device-hours (GPU-hours on CUDA: seconds × processes / 3600),
training images per second (counting each image once per epoch, whatever the attack's steps)
and peak memory (CUDA allocator peak, max over ranks; on CPU the process's peak RSS)."""
from __future__ import annotations

import resource
import sys
import time
from dataclasses import asdict, dataclass

import torch


@dataclass
class CostReport:
    device: str = "cpu"
    processes: int = 1
    seconds: float = 0.0
    train_seconds: float = 0.0
    train_images: int = 0
    passes_per_image: int = 1
    peak_memory_gb: float = 0.0

    @property
    def device_hours(self) -> float:
        return self.seconds * self.processes / 3600.0

    @property
    def images_per_s(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds > 0 else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["device_hours"] = self.device_hours
        d["gpu_hours"] = self.device_hours if self.device.startswith("cuda") else 0.0
        d["images_per_s"] = self.images_per_s
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
    update; +1 for ξ > 0), clean 1, the gradient-norm surrogate ~2 (a double backward)."""
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
