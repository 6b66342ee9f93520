"""The training loop: PGD adversarial training of a WideResNet on CIFAR-10 (Madry et al. 2018;
paper 002 Tables 1–2 and Fig. 2; paper 000's WRN runs), one process or many under torchrun.

Per epoch: this rank's shard of a seeded permutation; for each batch, augmentation on the
device, the attack (model in eval mode, so BatchNorm statistics see clean-path batches only),
one SGD step on CE(f(x + δ), y) (+ λ Σ|w|), all under bf16 autocast on CUDA and channels_last,
with no host synchronisation (metrics are summed on the device and read once per epoch).
After each epoch: PGD-20 on `eval_subset` test images, best-by-robust-accuracy checkpoint (ties: higher clean accuracy)
(robust overfitting, Rice et al. 2020), an atomic `last.pt` holding everything a resume needs,
and one JSON line in metrics.jsonl. At the end: the best weights evaluated on the test set
(clean, PGD-20 in fp32, AutoAttack if installed) and a cost report (time, memory, FLOPs), all in results.json.
"""
from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ..models.wrn import WideResNet
from ..results import dumps_strict, save_results
from .attack import grad_norm_loss, train_pgd
from .augment import random_crop_flip
from .checkpoint import load_checkpoint, rng_state, save_checkpoint
from .config import TrainConfig
from .report import CostReport, Timer, passes_per_image, peak_memory_gb, step_flops
from .data import load_split
from .distributed import (DistInfo, all_reduce_max, all_reduce_sum, barrier, broadcast_state, epoch_indices,
                          init_distributed)
from .evaluate import autoattack_accuracy, evaluate
from .finite import FiniteWatch, total_norm
from .resume import open_run, release_lock, restore, take_lock
from .runlock import RunLock

log = logging.getLogger(__name__)
AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def build_model(config: TrainConfig, num_classes: int = 10) -> WideResNet:
    """The run's WideResNet with its initial weights drawn from torch.manual_seed(config.seed)
    (the global RNG is left as found), so every rank and every rebuild starts identically."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return WideResNet(config.depth, config.widen_factor, num_classes, activation=config.activation,
                          beta=config.beta, frozen=config.frozen)


def resolve_precision(config: TrainConfig, device: torch.device) -> str:
    """"auto" -> bf16 on CUDA, fp32 on CPU. fp16 (with a GradScaler) only on CUDA."""
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision 'fp16' needs CUDA; use 'fp32' or 'bf16' on CPU")
    return precision


def lasso_penalty(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ|w| over the given weights (conv and linear kernels; BatchNorm and biases excluded)."""
    return torch.stack([p.abs().sum() for p in params]).sum()


def _epoch_seed(seed: int, rank: int, epoch: int) -> int:
    # the augmentation/attack generator is re-seeded from (seed, rank, epoch) at every epoch,
    # so a resumed run draws exactly what the uninterrupted one drew, on every rank
    return (seed * 1_000_003 + rank * 10_007 + epoch) % (2 ** 63)


class Trainer:
    """Holds the model, optimiser, schedule and data of one run; `fit()` trains and evaluates.

    Example:
        >>> cfg = TrainConfig(data_dir="~/cifar-10-batches-py", out_dir="runs/t1", eps=0.5)
        >>> results = Trainer(cfg).fit()         # or: python -m advexplore.gpu ...
    """

    def __init__(self, config: TrainConfig, info: DistInfo | None = None):
        if not config.data_dir:
            raise ValueError("data_dir must name the folder of the CIFAR-10 python batches (the extracted "
                             "cifar-10-batches-py/); for a toy run write one with write_smoke_cifar(folder)")
        self.config = config
        self.info = info or init_distributed(config.device)
        dev = self.device = self.info.device
        if config.method == "grad_norm" and self.info.distributed:
            raise ValueError("method 'grad_norm' (double backward) runs in one process; DDP does not support it")
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.precision = resolve_precision(config, dev)
        self.amp_dtype = AMP_DTYPES[self.precision]
        self.out_dir = Path(config.out_dir)
        self.run_lock = RunLock(self.out_dir)  # rank 0 holds it during fit()
        checkpoint = open_run(self)  # out_dir free? resume? same settings? — before any work
        self.x_train, self.y_train = load_split(config.data_dir, "train", config.train_subset, dev)
        self.x_test, self.y_test = load_split(config.data_dir, "test", config.test_subset, dev)
        k = config.eval_subset or len(self.x_test)
        self.x_eval, self.y_eval = self.x_test[:k], self.y_test[:k]
        self.net = build_model(config).to(dev)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.net = self.net.to(memory_format=self.memory_format)
        self.trainable = trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.lasso_params = [p for p in trainable if p.dim() > 1]
        self.watch = FiniteWatch(dev)
        self.optimizer = torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, config.milestone_epochs(),
                                                              gamma=config.gamma)
        self.scaler = torch.amp.GradScaler(dev.type, enabled=self.precision == "fp16")
        self.generator = torch.Generator(device=dev)
        self.train_model = self.net
        if self.info.distributed:
            self.train_model = DistributedDataParallel(self.net, device_ids=[dev.index] if dev.type == "cuda" else None)
        self.attack_model = self.net
        if config.compile:
            self.train_model = torch.compile(self.train_model)
            self.attack_model = torch.compile(self.net)
        self.start_epoch, self.best_robust, self.best_epoch, self.history = 0, -1.0, 0, []
        self.best_clean = -1.0  # breaks ties in robust accuracy (small eval sets, early epochs)
        self.train_seconds, self.train_images, self.wall_seconds = 0.0, 0, 0.0
        if checkpoint is not None:
            restore(self, checkpoint)

    # ---- state -------------------------------------------------------------------------
    def state(self, epoch: int) -> dict:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": epoch, "best_robust": self.best_robust, "best_clean": self.best_clean, "best_epoch": self.best_epoch,
                "history": self.history, "train_seconds": self.train_seconds,
                "train_images": self.train_images, "wall_seconds": self.wall_seconds, "rng": rng_state(), "config": self.config.to_dict()}

    # ---- one step ----------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor, xi: float) -> torch.Tensor:
        """One SGD step on a batch; returns the device tensor [loss·n, correct, n] (no sync)."""
        cfg = self.config
        inputs = xb
        if cfg.method == "pgd":
            self.net.eval()
            with self._autocast():
                delta = train_pgd(self.attack_model, xb, yb, cfg.eps, cfg.norm, cfg.steps, cfg.alpha, xi,
                                  self.generator)
            self.net.train()
            inputs = (xb + delta).contiguous(memory_format=self.memory_format)
        with self._autocast():
            if cfg.method == "grad_norm":
                loss, output = grad_norm_loss(self.train_model, xb, yb, cfg.eps, cfg.norm)
            else:
                output = self.train_model(inputs).float()
                loss = F.cross_entropy(output, yb)
        if cfg.lasso > 0:
            loss = loss + cfg.lasso * lasso_penalty(self.lasso_params)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        # fp16: the GradScaler skips steps whose scaled gradients overflow (expected, not divergence)
        grads = total_norm([p.grad for p in self.trainable]) if self.precision != "fp16" else loss.new_zeros(())
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.watch.record(loss, grads, total_norm(self.trainable))  # on the device, read once per epoch
        n = torch.full((), float(len(yb)), dtype=torch.float64, device=yb.device)
        return torch.stack([loss.detach().double() * n, (output.detach().argmax(1) == yb).sum().double(), n])

    # ---- epochs ------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        cfg, info = self.config, self.info
        self.generator.manual_seed(_epoch_seed(cfg.seed, info.rank, epoch))
        idx = epoch_indices(len(self.x_train), epoch, cfg.seed, info)
        batch = min(max(1, cfg.batch_size // info.world_size), len(idx))
        n_batches = len(idx) // batch  # the last partial batch is dropped (fixed shapes for compile)
        xi, lr = cfg.xi_at(epoch), self.optimizer.param_groups[0]["lr"]
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        self.watch.start_epoch()
        self.train_model.train()
        timer = Timer(self.device)
        start = timer.now()
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=not (cfg.progress and info.is_main))
        for b in bar:
            ids = idx[b * batch:(b + 1) * batch]
            xb = self.x_train[ids].float().div_(255)
            if cfg.augment:
                xb = random_crop_flip(xb, self.generator)
            xb = xb.contiguous(memory_format=self.memory_format)
            sums += self.train_step(xb, self.y_train[ids], xi)
        self.scheduler.step()
        # the epoch's one host sync: its metrics, and NaN/inf anywhere stops the run here, before any write
        s = self.watch.check(all_reduce_sum(sums, info), epoch, n_batches, info, self.out_dir / "last.pt")
        seconds = timer.now() - start
        self.train_seconds += seconds
        self.train_images += int(s[2])
        return {"epoch": epoch + 1, "lr": lr, "xi": xi, "train_loss": s[0] / max(s[2], 1),
                "train_acc": s[1] / max(s[2], 1), "epoch_seconds": seconds,
                "images_per_s": s[2] / seconds if seconds > 0 else 0.0}

    def evaluate(self, x, y, steps: int | None = None, amp: bool = True) -> dict:
        gen = torch.Generator(device=self.device).manual_seed(self.config.seed + 12345)
        return evaluate(self.net, x, y, self.config.eps, self.config.norm, steps or self.config.eval_steps,
                        batch_size=max(self.config.batch_size, 64), info=self.info, generator=gen,
                        autocast_dtype=self.amp_dtype if amp else None)

    def fit(self, on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
        """Train from start_epoch to config.epochs, then evaluate the best checkpoint; returns
        (and rank 0 writes to out_dir/results.json) {config, history, best_epoch, final, cost}.
        on_epoch_end(epoch, record) is called after each epoch's checkpoint is on disk.
        Rank 0 holds out_dir's lock from here until results.json is written."""
        take_lock(self)
        try:
            return self._fit(on_epoch_end)
        finally:
            release_lock(self)

    def _fit(self, on_epoch_end) -> dict:
        cfg, info = self.config, self.info
        mark = time.perf_counter()
        if info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with open(self.out_dir / "metrics.jsonl", "w") as fh:  # rewritten from the checkpoint's history
                fh.writelines(dumps_strict(r) + "\n" for r in self.history)
        epochs = range(self.start_epoch, cfg.epochs)
        for epoch in tqdm(epochs, desc="training", disable=not (cfg.progress and info.is_main)):
            record = self.train_epoch(epoch)
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                ev = self.evaluate(self.x_eval, self.y_eval)
                record.update({f"test_{k}": v for k, v in ev.items()})
                if (ev["robust_acc"], ev["clean_acc"]) > (self.best_robust, self.best_clean):
                    self.best_robust, self.best_clean, self.best_epoch = ev["robust_acc"], ev["clean_acc"], epoch + 1
                    if info.is_main:
                        save_checkpoint(self.out_dir / "best.pt", {"model": self.net.state_dict(),
                                                                   "epoch": epoch + 1, "metrics": record})
            self.history.append(record)
            now = time.perf_counter()
            self.wall_seconds, mark = self.wall_seconds + now - mark, now  # summed over resumes
            if info.is_main:
                save_checkpoint(self.out_dir / "last.pt", self.state(epoch))
                with open(self.out_dir / "metrics.jsonl", "a") as fh:
                    fh.write(dumps_strict(record) + "\n")
                log.info("epoch %d: %s", epoch + 1, record)
            barrier(info)
            if on_epoch_end is not None:
                on_epoch_end(epoch, record)
        self.wall_seconds += time.perf_counter() - mark
        return self.finish()

    def finish(self) -> dict:
        """Evaluate the best checkpoint on the test set and write results.json (rank 0)."""
        cfg, info = self.config, self.info
        last_state = {k: v.clone() for k, v in self.net.state_dict().items()}
        best_path = self.out_dir / "best.pt"
        if info.is_main and best_path.exists():
            self.net.load_state_dict(load_checkpoint(best_path, map_location=self.device)["model"])
        broadcast_state(self.net, info)  # every rank evaluates rank 0's best weights
        final = self.evaluate(self.x_test, self.y_test, amp=False)  # fp32 for the reported numbers
        final["autoattack_acc"], final["autoattack_n"] = None, 0
        if cfg.autoattack:  # every rank attacks its shard (a rank-0-only run would outlast NCCL's timeout)
            k = cfg.autoattack_subset or len(self.x_test)  # the first k test images
            xs, ys = self.x_test[:k][info.rank::info.world_size], self.y_test[:k][info.rank::info.world_size]
            acc = autoattack_accuracy(self.net, xs, ys, cfg.eps, cfg.norm, version=cfg.autoattack_version)
            if acc is not None:
                counts = torch.tensor([acc * len(ys), len(ys)], dtype=torch.float64, device=self.device)
                correct, total = all_reduce_sum(counts, info).tolist()
                final["autoattack_acc"], final["autoattack_n"] = correct / total, int(total)
        self.net.load_state_dict(last_state)
        peak = all_reduce_max(torch.tensor(peak_memory_gb(self.device), device=self.device), info).item()
        cost = CostReport(device=str(self.device), processes=info.world_size,
                          seconds=self.wall_seconds, train_seconds=self.train_seconds,
                          train_images=self.train_images,
                          passes_per_image=passes_per_image(cfg.method, cfg.steps, cfg.xi), peak_memory_gb=peak,
                          **step_flops(self))  # after the peak: the measured step runs on a copy
        results = {"config": cfg.to_dict(), "history": self.history, "best_epoch": self.best_epoch,
                   "final": final, "cost": cost.as_dict(), "precision": self.precision,
                   "world_size": info.world_size}
        if info.is_main:
            save_results(str(self.out_dir / "results.json"), **results)
        return results


def train(config: TrainConfig, on_epoch_end: Callable[[int, dict], None] | None = None,
          info: DistInfo | None = None) -> dict:
    """Build a Trainer for `config` and fit it (resuming from out_dir/last.pt when
    config.resume and it exists). Returns the results dict (see Trainer.fit)."""
    return Trainer(config, info).fit(on_epoch_end)
