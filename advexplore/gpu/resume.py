"""Resume rules: a run continues from out_dir/last.pt only with the settings that wrote it.

Every TrainConfig field changes the result (the weights, the schedule, which checkpoint is
best, the numbers reported) except the few in RESUMABLE, which may differ on resume. Any other
difference stops the run before any work, with one message listing each changed field
(old → new) and how to start afresh instead.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from .checkpoint import check_free_space, load_checkpoint, remove_stale_temp_files, set_rng_state, state_nbytes
from .config import TrainConfig
from .distributed import all_reduce_sum
from .runlock import OutDirLocked

log = logging.getLogger(__name__)

# fields that may change between the run that wrote a checkpoint and the run resuming it
RESUMABLE = {
    "data_dir": "where the CIFAR-10 files lie (the same files, moved or mounted elsewhere)",
    "out_dir": "the run folder itself (moved or renamed)",
    "epochs": "more (or fewer) epochs, as long as the epochs of the lr/xi drops stay the same",
    "autoattack": "adds (or drops) the AutoAttack number of the final evaluation",
    "autoattack_version": "which AutoAttack (standard ensemble or fast APGD-CE) the final evaluation runs",
    "autoattack_subset": "how many test images the final AutoAttack evaluation attacks",
    "progress": "progress bars",
    "resume": "whether to resume at all",
    "extra": "free-form labels (arm name, repetition)",
}


class ResumeMismatch(ValueError):
    """out_dir holds a checkpoint written with other settings (the message lists them)."""


def config_changes(saved: dict, config: TrainConfig) -> list[str]:
    """'field: old → new' for every field of `config` that differs from the checkpoint's config
    `saved` and is not RESUMABLE (fields missing from an older checkpoint count as their default);
    'epochs' counts only when it moves the lr/xi drop epochs."""
    new, defaults = config.to_dict(), TrainConfig().to_dict()
    changes = []
    for name, value in new.items():
        old = saved.get(name, defaults[name])
        if name == "epochs" and old != value:
            before = TrainConfig(epochs=old, milestones=saved.get("milestones", defaults["milestones"]))
            if before.milestone_epochs() != config.milestone_epochs():
                changes.append(f"epochs: {old!r} → {value!r} (moves the lr/xi drops from epochs "
                               f"{before.milestone_epochs()} to {config.milestone_epochs()})")
        elif name not in RESUMABLE and old != value:
            changes.append(f"{name}: {old!r} → {value!r}")
    return changes


def check_resume(checkpoint: dict, config: TrainConfig, path) -> None:
    """ResumeMismatch (before any work) if the checkpoint at `path` was written with settings that
    change the result; one line listing every changed field and how to start afresh."""
    changes = config_changes(checkpoint.get("config") or {}, config)
    if changes:
        out_dir = Path(path).parent
        raise ResumeMismatch(
            f"{path} (after epoch {checkpoint.get('epoch', -1) + 1}) was written with other settings, and "
            f"resuming with these would change its result: {'; '.join(changes)}. To continue that run, repeat its "
            f"settings; to start afresh, pass --resume false (resume=False; overwrites {out_dir}) or choose "
            f"another --out-dir. Settings that may change on resume: {', '.join(RESUMABLE)}.")


def _stamp(path: Path):
    st = path.stat() if path.exists() else None
    return None if st is None else (st.st_mtime_ns, st.st_size)


def open_run(trainer) -> dict | None:
    """Before any work (data, model): out_dir not in use by another run (rank 0 tries its lock),
    whether to resume (every rank must agree), and the checkpoint's settings equal to these.
    Returns the checkpoint to restore, or None. The same error is raised on every rank."""
    cfg, info, path = trainer.config, trainer.info, trainer.out_dir / "last.pt"
    locked = ""
    if info.is_main:
        try:
            trainer.run_lock.acquire(note=False)  # a look only: fit() holds the lock for the run
        except OutDirLocked as err:
            locked = str(err)
    found = cfg.resume and path.exists()
    if info.distributed:
        votes = all_reduce_sum(torch.tensor([float(found), 1.0, float(bool(locked))], device=trainer.device),
                               info).tolist()
        if votes[2]:
            raise OutDirLocked(locked or f"{trainer.out_dir} is in use by another run (rank 0 found its lock)")
        if 0 < votes[0] < votes[1]:
            # rank 0 writes the checkpoints: ranks that disagree would wait on each other for ever
            raise RuntimeError(f"{int(votes[0])} of {int(votes[1])} processes see {path}: out_dir must be on a "
                               "file system every node shares (rank 0 writes the checkpoints), or remove it to "
                               "start afresh")
    elif locked:
        raise OutDirLocked(locked)
    trainer.resumed_stamp = _stamp(path)
    if not found:
        return None
    checkpoint = load_checkpoint(path, map_location=trainer.device)
    check_resume(checkpoint, cfg, path)
    return checkpoint


def take_lock(trainer) -> None:
    """At the start of fit(): rank 0 takes out_dir's lock for the whole run, removes the temp files
    of killed checkpoint writes, checks that last.pt is still the one this Trainer resumed from
    and that the disk has room for the checkpoints. Every rank raises if rank 0 could not start."""
    info, out_dir = trainer.info, trainer.out_dir
    error: Exception | None = None
    if info.is_main:
        try:
            trainer.run_lock.acquire()
            for stale in remove_stale_temp_files(out_dir):
                log.warning("removed %s, the temp file of a checkpoint write that was killed", stale)
            path = out_dir / "last.pt"
            if trainer.config.resume and _stamp(path) != trainer.resumed_stamp:
                raise OutDirLocked(f"{path} changed since this Trainer was built (another run wrote it); build "
                                   "a new Trainer to resume from it")
            model = state_nbytes(trainer.net.state_dict())
            # last.pt holds the weights and as many momentum buffers, best.pt the weights
            check_free_space(path, 2 * model if path.exists() else 3 * model)
        except (OutDirLocked, OSError) as err:
            error = err
            trainer.run_lock.release()
    if info.distributed:
        failed = all_reduce_sum(torch.tensor([float(error is not None)], device=trainer.device), info).item()
        if failed and error is None:
            error = RuntimeError(f"rank 0 could not start the run in {out_dir} (see its message)")
    if error is not None:
        raise error


def release_lock(trainer) -> None:
    """At the end of fit(): this run's own checkpoints are no foreign change; let out_dir go."""
    trainer.resumed_stamp = _stamp(trainer.out_dir / "last.pt")
    trainer.run_lock.release()


def restore(trainer, ck: dict) -> None:
    """Put a checked checkpoint's state (weights, optimiser, schedule, history, RNGs) into trainer."""
    trainer.net.load_state_dict(ck["model"])
    trainer.optimizer.load_state_dict(ck["optimizer"])
    trainer.scheduler.load_state_dict(ck["scheduler"])
    trainer.scaler.load_state_dict(ck["scaler"])
    trainer.start_epoch = ck["epoch"] + 1
    trainer.best_robust, trainer.best_epoch, trainer.history = ck["best_robust"], ck["best_epoch"], ck["history"]
    trainer.best_clean = ck.get("best_clean", -1.0)
    trainer.train_seconds, trainer.train_images = ck["train_seconds"], ck["train_images"]
    trainer.wall_seconds = ck["wall_seconds"]
    set_rng_state(ck["rng"])
    if trainer.info.is_main:
        log.info("resumed from %s after epoch %d", trainer.out_dir / "last.pt", trainer.start_epoch)
