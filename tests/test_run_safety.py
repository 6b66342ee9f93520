"""Runs you can trust (WRN-10-1 on a tiny self-written CIFAR, CPU): a run killed in the middle of a
checkpoint write resumes bitwise equal to an uninterrupted one (its temp file and stale lock are
cleaned up), a resume with other settings is refused before any work, one writer per out_dir,
NaN/inf stops the run with the step named and strict JSON on disk, checkpoints are checksummed
and every load/write problem names the file, and every rejected flag is one line, exit 2."""
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from advexplore.gpu import TrainConfig, Trainer, load_checkpoint, save_checkpoint, train, write_smoke_cifar
from advexplore.gpu import checkpoint as ckpt
from advexplore.gpu.__main__ import main as cli_main
from advexplore.gpu.checkpoint import CheckpointError, CheckpointSpaceError, remove_stale_temp_files
from advexplore.gpu.finite import FiniteWatch
from advexplore.gpu.resume import RESUMABLE, config_changes
from advexplore.gpu.runlock import OWNER_NAME, OutDirLocked, RunLock
from advexplore._validate import NonFiniteError
from advexplore.results import save_results

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(depth=10, widen_factor=1, epochs=2, batch_size=16, steps=2, eval_steps=2, eval_subset=8,
            progress=False, autoattack=False)


def _no_nan(text):
    raise ValueError(f"non-standard JSON constant {text}")


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity (RFC 8259 JSON, as any other parser reads it)."""
    return json.loads(text, parse_constant=_no_nan)


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    return write_smoke_cifar(tmp_path_factory.mktemp("cifar"), n_train=48, n_test=16, seed=1)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One thread here and in the subprocesses: CPU results are then bitwise reproducible."""


def tiny(smoke_dir, out, **changes):
    return TrainConfig(**{"data_dir": str(smoke_dir), "out_dir": str(out), **TINY, **changes})


def flags(smoke_dir, out, *extra):
    args = ["--data-dir", str(smoke_dir), "--out-dir", str(out)]
    for key, value in TINY.items():
        args += ["--" + key.replace("_", "-"), str(value).lower() if isinstance(value, bool) else str(value)]
    return args + list(extra)


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# ---- killed mid-write: bitwise resume, stale temp file removed, stale lock taken over ------------
KILL_DURING_SECOND_LAST_PT_WRITE = textwrap.dedent("""
    import os, signal, sys
    import torch
    real_save, writes = torch.save, []
    def save(obj, f):
        name = str(getattr(getattr(f, "fh", None), "name", ""))
        if ".last.pt.tmp" in name:
            writes.append(name)
            if len(writes) == 2:          # epoch 2's last.pt: half written, then SIGKILL (no cleanup runs)
                f.write(b"half a checkpoint" * 100)
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, f)
    torch.save = save
    torch.set_num_threads(1)
    from advexplore.gpu.__main__ import main
    sys.exit(main(sys.argv[1:]))
""")


def test_a_run_killed_while_writing_a_checkpoint_resumes_bitwise(smoke_dir, tmp_path, caplog):
    changes = dict(epochs=3, milestones=(0.5,), xi=1e-3, lasso=1e-5)
    full = train(tiny(smoke_dir, tmp_path / "full", **changes))
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-c", KILL_DURING_SECOND_LAST_PT_WRITE,
                             *flags(smoke_dir, cut, "--epochs", "3", "--milestones", "0.5", "--xi", "1e-3",
                                    "--lasso", "1e-5")],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
    leftovers = [p.name for p in cut.iterdir() if ".tmp" in p.name]
    assert leftovers == [f".last.pt.tmp{proc.pid}"]                 # what a killed write leaves behind
    assert json.loads((cut / OWNER_NAME).read_text())["pid"] == proc.pid   # and its lock note
    assert load_checkpoint(cut / "last.pt")["epoch"] == 0              # last.pt is epoch 1's, intact
    with caplog.at_level("WARNING"):
        resumed = train(tiny(smoke_dir, cut, **changes))
    assert f"taking over the stale lock of PID {proc.pid}" in caplog.text
    assert f".last.pt.tmp{proc.pid}, the temp file of a checkpoint write that was killed" in caplog.text
    assert not [p for p in cut.iterdir() if ".tmp" in p.name] and not (cut / OWNER_NAME).exists()
    a, b = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(cut / "last.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for k in a["optimizer"]["state"]:
        assert torch.equal(a["optimizer"]["state"][k]["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
    keys = ("train_loss", "lr", "xi", "test_robust_acc", "test_clean_loss")
    assert [[r[k] for k in keys] for r in full["history"]] == [[r[k] for k in keys] for r in resumed["history"]]
    assert resumed["final"] == full["final"]
    assert [strict_json(line)["epoch"] for line in (cut / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


# ---- resume guard ----------------------------------------------------------------------------------
def test_a_resume_with_other_settings_is_refused_with_every_changed_field(smoke_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main(flags(smoke_dir, out, "--epochs", "1")) == 0
    before = (out / "last.pt").read_bytes()
    capsys.readouterr()
    code = cli_main(flags(smoke_dir, out, "--epochs", "1", "--eps", "1.0", "--lr", "0.01", "--seed", "9",
                          "--depth", "16"))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for change in ("eps: 0.5 → 1.0", "lr: 0.1 → 0.01", "seed: 0 → 9", "depth: 10 → 16"):
        assert change in err, err
    assert f"{out / 'last.pt'} (after epoch 1)" in err and "--resume false" in err and "another --out-dir" in err
    assert (out / "last.pt").read_bytes() == before  # nothing was trained or written
    # the fields that may change (RESUMABLE) do not stop a resume: a moved data folder, progress bars
    moved = tmp_path / "moved_data"
    moved.mkdir()
    for f in Path(smoke_dir).iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    assert cli_main(flags(moved, out, "--epochs", "1", "--progress", "true", "--autoattack", "false")) == 0
    # --resume false starts afresh over the old run
    assert cli_main(flags(smoke_dir, out, "--epochs", "1", "--eps", "1.0", "--resume", "false")) == 0
    assert load_checkpoint(out / "last.pt")["config"]["eps"] == 1.0


def test_which_fields_may_change_on_resume():
    saved = TrainConfig(epochs=4, milestones=(0.5,)).to_dict()
    # more epochs with the same lr/ξ drop epochs (round(0.5·5) = 2 = round(0.5·4)) may resume
    assert config_changes(saved, TrainConfig(epochs=5, milestones=(0.5,), progress=False, data_dir="/else",
                                             out_dir="moved", extra={"arm": "x"})) == []
    assert config_changes(saved, TrainConfig(epochs=8, milestones=(0.5,))) == [
        "epochs: 4 → 8 (moves the lr/xi drops from epochs [2] to [4])"]
    # every other field changes the result
    others = dict(train_subset=5, test_subset=5, eval_subset=5, depth=16, widen_factor=2, activation="softplus",
                  beta=5.0, frozen=("conv1",), method="clean", norm="linf", eps=0.25, steps=3, step_size=0.1,
                  xi=0.1, lasso=0.1, batch_size=64, lr=0.2, momentum=0.5, weight_decay=0.0, milestones=(0.25,),
                  gamma=0.5, augment=False, eval_steps=3, eval_every=2, precision="fp32", channels_last=False,
                  compile=True, device="cpu", seed=3)
    names = {f for f in TrainConfig().to_dict()}
    assert set(others) | set(RESUMABLE) == names  # the test covers every field
    for name, value in others.items():
        changes = config_changes(saved, TrainConfig(**{**saved, "epochs": 4, name: value}))
        assert len(changes) == 1 and changes[0].startswith(f"{name}: "), (name, changes)
    # a checkpoint from before a field existed counts as that field's default
    assert config_changes({k: v for k, v in saved.items() if k != "xi"}, TrainConfig(**saved)) == []


# ---- one writer per out_dir ------------------------------------------------------------------------
HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from advexplore.gpu.runlock import RunLock
    lock = RunLock(sys.argv[1]).acquire()  # held while this object lives
    print("held", flush=True)
    time.sleep(300)
""")


def test_a_second_run_on_a_busy_out_dir_is_refused_naming_the_holder(smoke_dir, tmp_path, capsys):
    out = tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], env=_env(), stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = cli_main(flags(smoke_dir, out))
        err = capsys.readouterr().err
        assert code == 3 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"{out} is in use by PID {holder.pid} on host {os.uname().nodename}" in err
        assert not (out / "last.pt").exists() and not (out / "metrics.jsonl").exists()
        with pytest.raises(OutDirLocked, match=f"PID {holder.pid}"):
            Trainer(tiny(smoke_dir, out))  # the library refuses too, before loading any data
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its note is left, the OS dropped its lock, a new run takes over
    assert json.loads((out / OWNER_NAME).read_text())["pid"] == holder.pid
    lock = RunLock(out).acquire()
    assert lock.took_over["pid"] == holder.pid
    with pytest.raises(OutDirLocked, match=f"in use by PID {os.getpid()}"):
        RunLock(out).acquire()  # one holder at a time, even within a process
    lock.release()
    assert not (out / OWNER_NAME).exists()


def test_a_trainer_refuses_a_checkpoint_written_after_it_was_built(smoke_dir, tmp_path):
    out = tmp_path / "race"
    first, second = Trainer(tiny(smoke_dir, out, epochs=1)), Trainer(tiny(smoke_dir, out, epochs=1))
    first.fit()
    with pytest.raises(OutDirLocked, match="last.pt changed since this Trainer was built"):
        second.fit()  # would otherwise redo epoch 1 over the first one's checkpoint
    assert not (out / OWNER_NAME).exists()


# ---- non-finite values stop the run ------------------------------------------------------------------
def test_a_nan_stops_the_run_at_its_step_and_keeps_the_last_good_checkpoint(smoke_dir, tmp_path):
    out = tmp_path / "nan"
    trainer = Trainer(tiny(smoke_dir, out, epochs=3))
    calls = []

    def poison(module, inputs, output):  # the 5th training forward (epoch 2, step 2 of 3) returns NaN logits
        if module.training:
            calls.append(1)
            if len(calls) == 5:
                return output * float("nan")
    trainer.net.fc.register_forward_hook(poison)
    with pytest.raises(NonFiniteError, match=r"the loss is nan at epoch 2, step 2 of 3; .* the last good "
                                             r"checkpoint .*last.pt \(after epoch 1\) is kept"):
        trainer.fit()
    ck = load_checkpoint(out / "last.pt")
    assert ck["epoch"] == 0 and all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [strict_json(line)["epoch"] for line in lines] == [1]
    assert not (out / "results.json").exists() and not (out / OWNER_NAME).exists()


def test_a_diverging_cli_run_exits_4_naming_epoch_step_and_quantity(smoke_dir, tmp_path, capsys):
    out = tmp_path / "diverge"
    code = cli_main(flags(smoke_dir, out, "--lr", "1e30"))
    err = capsys.readouterr().err
    assert code == 4 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "error: training diverged: the " in err and "at epoch 1, step 1 of 3" in err and "no checkpoint" in err
    assert not (out / "last.pt").exists()
    for line in (out / "metrics.jsonl").read_text().splitlines():
        strict_json(line)


def test_the_device_side_watch_reports_the_first_bad_step_and_quantity():
    from advexplore.gpu import DistInfo

    watch = FiniteWatch(torch.device("cpu"))
    one, metrics = torch.tensor(1.0), torch.tensor([2.5, 3.0], dtype=torch.float64)
    watch.record(one, one, one)
    assert watch.check(metrics, 0, 4, DistInfo(), "x/last.pt") == [2.5, 3.0]  # all finite: the metrics
    watch.record(one, torch.tensor(float("inf")), one)
    watch.record(torch.tensor(float("nan")), one, one)  # a later bad step does not replace the first
    with pytest.raises(NonFiniteError, match=r"the gradient norm is inf at epoch 3, step 2 of 4; .*x/last.pt \(after epoch 2\)"):
        watch.check(metrics, 2, 4, DistInfo(), "x/last.pt")
    watch.start_epoch()
    watch.record(one, one, torch.tensor(float("-inf")))
    with pytest.raises(NonFiniteError, match=r"the weights' norm is -inf at epoch 1, step 1 of 4"):
        watch.check(metrics, 0, 4, DistInfo(), "x/last.pt")


def test_results_and_metrics_are_strict_json(tmp_path):
    import numpy as np

    path = tmp_path / "r.json"
    save_results(path, a=float("nan"), b=torch.tensor([1.0, float("inf")]), c=np.float64("-inf"),
                 d={"e": [np.float32("nan"), 2]}, f=np.bool_(True))
    assert strict_json(path.read_text()) == {"a": None, "b": [1.0, None], "c": None, "d": {"e": [None, 2]}, "f": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# ---- checkpoints you can diagnose ----------------------------------------------------------------------
def test_corrupt_truncated_and_foreign_checkpoints_are_refused_with_the_path(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.arange(1000.0), "epoch": 3})
    good = path.read_bytes()
    assert load_checkpoint(path)["epoch"] == 3
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10  # one bit in the middle of the payload
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is corrupt .*: delete it .* --resume false"):
        load_checkpoint(path)
    path.write_bytes(good[:-100])
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is truncated"):
        load_checkpoint(path)
    path.write_bytes(os.urandom(5000))
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is not a readable advexplore checkpoint"):
        load_checkpoint(path)
    torch.save({"epoch": 7}, path)  # a plain torch.save file (written before the checksum) still loads
    assert load_checkpoint(path)["epoch"] == 7
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_a_bit_flipped_last_pt_stops_the_cli_with_one_line(smoke_dir, tmp_path, capsys):
    out = tmp_path / "flip"
    assert cli_main(flags(smoke_dir, out, "--epochs", "1")) == 0
    raw = bytearray((out / "last.pt").read_bytes())
    raw[-5000] ^= 0x01
    (out / "last.pt").write_bytes(bytes(raw))
    capsys.readouterr()
    code = cli_main(flags(smoke_dir, out))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"checkpoint {out / 'last.pt'} is corrupt" in err


def test_full_disks_name_the_file_and_the_space_needed(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1})
    state = {"w": torch.zeros(250_000), "epoch": 2}  # 1 MB of weights
    usage = ckpt.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda p: usage._replace(free=1_500_000))
    with pytest.raises(CheckpointSpaceError, match=f"not enough free space to write {path}: it needs about 1.1 MB, "
                                                   r"1.5 MB is free") as err:
        save_checkpoint(path, state)
    assert err.value.errno == errno.ENOSPC and "Errno" not in str(err.value)
    monkeypatch.undo()
    for failure in (OSError(errno.ENOSPC, "No space left on device"),
                    RuntimeError("[enforce fail at inline_container.cc:783] . unexpected pos 48640 vs 48536")):
        def failing_save(obj, fh, failure=failure):
            fh.write(b"partial")
            raise failure
        monkeypatch.setattr(torch, "save", failing_save)
        with pytest.raises(CheckpointSpaceError, match=f"the disk filled up while writing {path} "):
            save_checkpoint(path, state)
        monkeypatch.undo()
        assert load_checkpoint(path)["epoch"] == 1 and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_run_without_room_for_its_checkpoints_stops_before_training(smoke_dir, tmp_path, monkeypatch):
    out = tmp_path / "small_disk"
    trainer = Trainer(tiny(smoke_dir, out))
    usage = ckpt.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda p: usage._replace(free=10_000))
    with pytest.raises(CheckpointSpaceError, match=f"to write {out / 'last.pt'}: it needs about"):
        trainer.fit()
    assert not (out / "metrics.jsonl").exists() and trainer.history == []


def test_stale_temp_files_are_recognised_by_name(tmp_path):
    for name in (".last.pt.tmp123", ".best.pt.tmp9", "last.pt", ".lock", "notes.tmp1", ".last.pt.tmpx"):
        (tmp_path / name).write_text("x")
    removed = sorted(p.name for p in remove_stale_temp_files(tmp_path))
    assert removed == [".best.pt.tmp9", ".last.pt.tmp123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".last.pt.tmpx", ".lock", "last.pt", "notes.tmp1"]


# ---- user errors are one line ------------------------------------------------------------------------
BAD_FLAGS = [  # at least one rejected value for every TrainConfig field
    ("--out-dir", ""), ("--train-subset", "-1"), ("--test-subset", "-1"), ("--eval-subset", "-1"),
    ("--depth", "15"), ("--widen-factor", "0"), ("--activation", "gelu"), ("--beta", "0"),
    ("--frozen", "block9"), ("--method", "trades"), ("--norm", "l3"), ("--eps", "-1"), ("--steps", "0"),
    ("--step-size", "0"), ("--xi", "-1"), ("--lasso", "nan"), ("--epochs", "0"), ("--batch-size", "0"),
    ("--lr", "0"), ("--lr", "inf"), ("--momentum", "-1"), ("--weight-decay", "-1"), ("--milestones", "0.9,0.5"),
    ("--gamma", "-1"), ("--augment", "maybe"), ("--eval-steps", "0"), ("--eval-every", "0"),
    ("--autoattack", "maybe"), ("--autoattack-version", "full"), ("--autoattack-subset", "-1"), ("--precision", "int8"), ("--channels-last", "maybe"), ("--compile", "maybe"),
    ("--device", "tpu"), ("--seed", "-1"), ("--resume", "maybe"), ("--progress", "maybe"), ("--epochs", "x"),
    ("--milestones", "a,b"),
]


@pytest.mark.parametrize("flag,value", BAD_FLAGS, ids=[f"{f}={v}" for f, v in BAD_FLAGS])
def test_every_rejected_flag_is_one_line_exit_2(smoke_dir, tmp_path, capsys, flag, value):
    argv = flags(smoke_dir, tmp_path / "out", flag, value)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"python -m advexplore.gpu: error: ") and "Traceback" not in err
    assert flag in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was made


def test_config_field_errors_read_like_argparse(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--eps", "-1"])
    assert capsys.readouterr().err == ("python -m advexplore.gpu: error: --eps must be a finite number >= 0 "
                                       "(got -1.0) (see --help)\n")


def test_data_and_setup_errors_are_one_line_too(smoke_dir, tmp_path, capsys):
    cases = [(["--data-dir", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path / "a")], "data_batch_1 not found"),
             (["--data-dir", "", "--out-dir", str(tmp_path / "b")], "data_dir must name the folder"),
             (flags(smoke_dir, tmp_path / "c", "--precision", "fp16", "--device", "cpu"), "precision 'fp16' needs CUDA"),
             (flags(smoke_dir, tmp_path / "d", "--config-json", str(tmp_path / "missing.json")),
              "--config-json .*missing.json: No such file")]
    (tmp_path / "e.json").write_text('{"epoch": 3}')
    cases.append((["--config-json", str(tmp_path / "e.json")], "unknown TrainConfig fields"))
    import re
    for argv, pattern in cases:
        try:
            code = cli_main(argv)
        except SystemExit as exit_info:
            code = exit_info.code
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
        assert re.search(pattern, err), (pattern, err)


def test_a_real_process_prints_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "advexplore.gpu", "--eps", "-1"], env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "python -m advexplore.gpu: error: --eps must be a finite number >= 0 (got -1.0) (see --help)"]
