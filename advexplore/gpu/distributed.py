"""Scaling out with PyTorch's own engine: torchrun sets RANK/WORLD_SIZE/LOCAL_RANK, every
process holds the whole (small) CIFAR-10 tensor on its device, a DistributedSampler gives each
its shard of every epoch, DistributedDataParallel averages the gradients, and only rank 0
logs and writes checkpoints. One process without torchrun is the same code with world 1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but torch.cuda.is_available() is False")
    return torch.device(device)


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU), or return a
    single-process DistInfo when WORLD_SIZE is unset or 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def cleanup(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def epoch_indices(n: int, epoch: int, seed: int, info: DistInfo, shuffle: bool = True) -> torch.Tensor:
    """This rank's sample indices for `epoch` (torch's DistributedSampler: a permutation seeded
    by seed + epoch, padded so every rank gets ⌈n/world⌉ indices), on the rank's device."""
    sampler = DistributedSampler(range(n), num_replicas=info.world_size, rank=info.rank,
                                 shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long, device=info.device)


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of t over ranks (t itself with one process)."""
    if info.distributed:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_max(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.distributed:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def broadcast_state(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers into every rank's module, in place (nothing with
    one process). State-dict tensors share storage with the module, so broadcasting them is enough."""
    if info.distributed:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def torchrun_command(config_path, nproc: int, nnodes: int = 1) -> list[str]:
    """The command that trains the JSON config at config_path on nproc processes per node:
    `python -m torch.distributed.run --standalone --nproc_per_node N -m advexplore.gpu
    --config-json PATH` (for several nodes run torchrun yourself with --nnodes/--rdzv-endpoint)."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nnodes={nnodes}",
            f"--nproc_per_node={nproc}", "-m", "advexplore.gpu", "--config-json", str(config_path)]


def launch(config, nproc: int, env: dict | None = None, timeout: float | None = None) -> dict:
    """Run `config` (a TrainConfig) under torchrun with nproc processes (a subprocess; used by
    the notebooks when devices > 1) and return the results dict rank 0 wrote."""
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=out_dir, delete=False) as fh:
        fh.write(config.to_json())
    run_env = {**os.environ, **(env or {})}
    proc = subprocess.run(torchrun_command(fh.name, nproc), env=run_env, capture_output=True,
                          text=True, timeout=timeout)
    os.unlink(fh.name)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun with {nproc} processes failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-4000:]}")
    return json.loads((out_dir / "results.json").read_text())
