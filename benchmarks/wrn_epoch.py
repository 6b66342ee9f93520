"""Seconds per training epoch of the real trainer (Trainer.train_epoch: sampling, augmentation,
PGD, SGD), and the host synchronisations inside it, on self-written CIFAR-format images.

    python benchmarks/wrn_epoch.py                          # CPU: toy WRN-10-1 on 512 images
    python benchmarks/wrn_epoch.py --compile                # one GPU: WRN-34-10, 50 000 images

Goal (issue "GPU WideResNet pipeline"): a WRN-34-10 PGD-10 epoch within 60 s on one H100 (the
compute lower bound is ~15–22 s). The first epoch pays for cudnn autotuning (and compiling), so
the script times `--epochs` epochs and reports each. On CUDA it also counts the host syncs of
one epoch with torch.cuda.set_sync_debug_mode("warn"): the trainer promises one (the epoch's
metrics); every other one stalls the GPU queue and is printed. No network: the data is written
here (class means plus noise), so the accuracies mean nothing; the timing is what counts.
"""
from __future__ import annotations

import argparse
import tempfile
import warnings

import torch

from advexplore.gpu import TrainConfig, Trainer, write_smoke_cifar


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=None, help="34 on CUDA, 10 on CPU")
    parser.add_argument("--widen", type=int, default=None, help="10 on CUDA, 1 on CPU")
    parser.add_argument("--images", type=int, default=None, help="training images (50 000 on CUDA, 512 on CPU)")
    parser.add_argument("--batch", type=int, default=128, help="batch size (the papers' 128)")
    parser.add_argument("--steps", type=int, default=10, help="PGD steps of the training attack")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed (the first one warms up)")
    parser.add_argument("--norm", default="linf", choices=("l2", "linf"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and args.device != "cpu"
    depth, widen = args.depth or (34 if cuda else 10), args.widen or (10 if cuda else 1)
    images = args.images or (50_000 if cuda else 512)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_smoke_cifar(f"{tmp}/data", n_train=images, n_test=64)
        cfg = TrainConfig(data_dir=str(data), out_dir=f"{tmp}/run", depth=depth, widen_factor=widen,
                          norm=args.norm, eps=0.5 if args.norm == "l2" else 8 / 255, steps=args.steps,
                          batch_size=args.batch, epochs=max(args.epochs, 2), precision=args.precision,
                          compile=args.compile, device=args.device, resume=False, autoattack=False,
                          progress=False)
        trainer = Trainer(cfg)
        name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
        print(f"WRN-{depth}-{widen}, PGD-{args.steps} {args.norm}, batch {args.batch}, {images} images, "
              f"{trainer.precision}{' + compile' if args.compile else ''}, {name}")
        for epoch in range(args.epochs):
            syncs = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if cuda:
                    torch.cuda.set_sync_debug_mode("warn")
                try:
                    record = trainer.train_epoch(epoch)
                finally:
                    if cuda:
                        torch.cuda.set_sync_debug_mode("default")
                syncs = [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]
            per_epoch = record["epoch_seconds"] * 50_000 / images
            line = (f"  epoch {epoch + 1}: {record['epoch_seconds']:.1f} s, {record['images_per_s']:.0f} images/s"
                    f" -> {per_epoch:.1f} s per 50 000-image epoch")
            if cuda:
                line += f"; host syncs: {len(syncs)} (expected 1)"
            print(line)
            for message in syncs[:5]:
                print("     sync:", message)
        if cuda:
            print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 1e9:.1f} GB; "
                  f"goal for WRN-34-10 PGD-10 on one H100: <= 60 s per epoch")


if __name__ == "__main__":
    main()
