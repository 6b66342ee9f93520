"""Images/s of one PGD-10 adversarial-training step of a WideResNet: fp32 eager vs the fast
path (bf16 autocast + channels_last [+ torch.compile]), measured side by side in one run.

    python benchmarks/wrn_throughput.py                       # CPU: toy WRN-10-1, batch 32
    python benchmarks/wrn_throughput.py --depth 34 --widen 10 --batch 512 --compile   # one GPU

Goals (paper 002 Tables 1–2 at full size, on CUDA): fast path ≥ 3× the fp32 eager step, and a
WRN-34-10 PGD-10 epoch (50 000 images) within 60 s on one H100 (compute lower bound ~15–22 s).
The step is Trainer.train_step itself (attack in eval mode, SGD update, LASSO off). On CPU
bf16 autocast is usually SLOWER than fp32 (no bf16 matrix units on most CPUs): the CPU figure
only shows that the code path runs; the ≥ 3× goal is about GPUs.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from advexplore.gpu import TrainConfig, Trainer, write_smoke_cifar


def make_batch(trainer: Trainer, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 32, 32, generator=g).to(trainer.device)
    y = torch.randint(0, 10, (batch,), generator=g).to(trainer.device)
    return x.contiguous(memory_format=trainer.memory_format), y


def images_per_s(trainer: Trainer, x: torch.Tensor, y: torch.Tensor, iters: int) -> float:
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        trainer.train_step(x, y, 0.0)
    sync()
    return len(x) * iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=None, help="34 on CUDA, 10 on CPU")
    parser.add_argument("--widen", type=int, default=None, help="10 on CUDA, 1 on CPU")
    parser.add_argument("--batch", type=int, default=None, help="512 on CUDA, 32 on CPU")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps of the training attack")
    parser.add_argument("--iters", type=int, default=None, help="timed steps (20 on CUDA, 3 on CPU)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timing rounds; the paths alternate within a round and each keeps its best")
    parser.add_argument("--compile", action="store_true", help="add torch.compile to the fast path")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and args.device != "cpu"
    depth = args.depth or (34 if cuda else 10)
    widen = args.widen or (10 if cuda else 1)
    batch = args.batch or (512 if cuda else 32)
    iters = args.iters or (20 if cuda else 3)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        data = write_smoke_cifar(tmp, n_train=16, n_test=16)
        base = dict(data_dir=str(data), out_dir=tmp, depth=depth, widen_factor=widen, steps=args.steps,
                    batch_size=batch, resume=False, device=args.device, autoattack=False, progress=False)
        paths = {"fp32 eager": dict(precision="fp32", channels_last=False, compile=False),
                 "fast (bf16 + channels_last" + (" + compile)" if args.compile else ")"):
                     dict(precision="bf16", channels_last=True, compile=args.compile)}
        trainers = {name: Trainer(TrainConfig(**base, **opts)) for name, opts in paths.items()}
        batches = {name: make_batch(t, batch) for name, t in trainers.items()}
        for name, t in trainers.items():  # warm-up: cudnn autotuning, torch.compile
            for _ in range(3 if cuda else 1):
                t.train_step(*batches[name], 0.0)
        rates = {name: 0.0 for name in paths}
        for _ in range(args.repeat):  # alternating rounds, so a noisy spell hits both paths
            for name, t in trainers.items():
                rates[name] = max(rates[name], images_per_s(t, *batches[name], iters))
        del trainers
    device = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"WRN-{depth}-{widen}, PGD-{args.steps} training step, batch {batch}, {device}, best of {args.repeat} alternating rounds")
    for name, rate in rates.items():
        print(f"  {name:38s} {rate:10.1f} images/s   -> {50_000 / rate:9.1f} s per 50 000-image epoch")
    fp32, fast = rates.values()
    print(f"  speed-up fast / fp32: {fast / fp32:.2f}x   (goal on GPU: >= 3x)")
    if cuda and (depth, widen) == (34, 10):
        print(f"  WRN-34-10 PGD-{args.steps} epoch: {50_000 / fast:.1f} s (goal: <= 60 s on one H100)")


if __name__ == "__main__":
    main()
