"""The WRN adversarial-training pipeline at toy size on CPU: augmentation (brute force), the
training attack (closed-form gradient of a linear model), schedules, LASSO step (closed form),
atomic checkpoints, killed-and-resumed == uninterrupted, DDP with 2 gloo processes, the CLI."""
import json

import pytest
import torch
import torch.nn.functional as F

from advexplore.data import load_cifar10
from advexplore.gpu import (DistInfo, TrainConfig, Trainer, load_checkpoint, random_crop_flip,
                                        save_checkpoint, train, train_pgd, write_smoke_cifar)
from advexplore.gpu.__main__ import main as cli_main
from advexplore.gpu.distributed import epoch_indices, launch


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    return write_smoke_cifar(tmp_path_factory.mktemp("cifar"), n_train=48, n_test=16, seed=1)


def tiny(smoke_dir, out, **changes):
    values = dict(data_dir=str(smoke_dir), out_dir=str(out), depth=10, widen_factor=1, epochs=2,
                  batch_size=16, steps=2, eval_steps=2, eval_subset=8, progress=False, autoattack=False)
    values.update(changes)
    return TrainConfig(**values)


def test_smoke_data_is_real_cifar_format(smoke_dir):
    x, y = load_cifar10(smoke_dir, "train")
    assert x.shape == (48, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert sorted(y.tolist()) == sorted((torch.arange(48) % 10).tolist())


def test_random_crop_flip_is_a_shift_with_zero_fill_and_maybe_a_mirror():
    torch.manual_seed(0)
    x = torch.rand(40, 2, 6, 6) + 0.5  # no zeros inside, so zero fill is recognisable
    out = random_crop_flip(x, torch.Generator().manual_seed(3), padding=2)
    padded = F.pad(x, (2, 2, 2, 2))
    flips = 0
    for i in range(len(x)):
        candidates = [(dy, dx, f) for dy in range(5) for dx in range(5) for f in (False, True)
                      if torch.equal(out[i], (lambda c: c.flip(-1) if f else c)(padded[i, :, dy:dy + 6, dx:dx + 6]))]
        assert candidates, f"image {i} is not a crop of the padded image"
        flips += candidates[0][2]
    assert 8 <= flips <= 32  # Binomial(40, 1/2): far outside ±4 standard deviations otherwise


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_train_pgd_stays_in_the_ball_and_box_and_raises_the_loss(norm):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 10, (16,))
    eps = 0.5 if norm == "l2" else 8 / 255
    delta = train_pgd(model, x, y, eps, norm, steps=5, generator=torch.Generator().manual_seed(0))
    size = delta.flatten(1).norm(dim=1) if norm == "l2" else delta.flatten(1).abs().amax(1)
    assert (size <= eps * (1 + 1e-5)).all()
    assert ((x + delta) >= 0).all() and ((x + delta) <= 1).all()
    clean = F.cross_entropy(model(x), y, reduction="none")
    attacked = F.cross_entropy(model(x + delta), y, reduction="none")
    assert (attacked > clean).all()


def test_train_pgd_surrogate_shrink_matches_the_closed_form_gradient():
    """Linear logits Wx: ∂CE/∂x = Wᵀ(softmax(Wx) − e_y), so the L2 shrink is ‖g‖/√(‖g‖² + ξ²)."""
    torch.manual_seed(1)
    lin = torch.nn.Linear(12, 10, bias=False).double()
    x, y = torch.rand(6, 12, dtype=torch.float64), torch.randint(0, 10, (6,))
    xi = 0.05
    d0 = train_pgd(lin, x, y, 0.3, "l2", steps=3, generator=torch.Generator().manual_seed(5))
    dxi = train_pgd(lin, x, y, 0.3, "l2", steps=3, xi=xi, generator=torch.Generator().manual_seed(5))
    g = (torch.softmax(x @ lin.weight.T, 1) - F.one_hot(y, 10).double()) @ lin.weight
    shrink = g.norm(dim=1) / torch.sqrt(g.norm(dim=1) ** 2 + xi ** 2)
    assert torch.allclose(dxi, shrink[:, None] * d0, atol=1e-12)


def test_config_schedule_and_validation():
    cfg = TrainConfig(epochs=100, xi=1e-3)
    assert cfg.milestone_epochs() == [75, 90]  # paper 002, Fig. 2
    assert [cfg.xi_at(e) for e in (0, 74, 75, 89, 90, 99)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])
    assert cfg.alpha == pytest.approx(2.5 * 0.5 / 10)
    for bad in (dict(norm="l3"), dict(method="trades"), dict(epochs=0), dict(milestones=(0.9, 0.5)),
                dict(precision="int8"), dict(eps=-1.0), dict(device="tpu"), dict(activation="gelu"),
                dict(frozen=("block9",)), dict(lasso=float("nan"))):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)
    with pytest.raises(TypeError, match="eps"):
        TrainConfig(eps="0.5")
    with pytest.raises(ValueError, match="data_dir"):
        Trainer(TrainConfig(data_dir=""))
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"epoch": 3})


def test_lasso_adds_lr_lambda_sign_w_to_the_first_sgd_step(smoke_dir, tmp_path):
    """First SGD step (momentum buffer = gradient): w₁ = w₀ − lr(∇CE + wd·w₀ + λ sign w₀)."""
    runs = []
    for lam in (0.0, 1e-2):
        t = Trainer(tiny(smoke_dir, tmp_path / f"l{lam}", method="clean", augment=False, lasso=lam))
        w0 = t.net.block2[0].conv1.weight.detach().clone()
        t.train_step(t.x_train[:16].float() / 255, t.y_train[:16], 0.0)
        runs.append((w0, t.net.block2[0].conv1.weight.detach().clone()))
    (w0, w_plain), (w0b, w_lasso) = runs
    assert torch.equal(w0, w0b)
    assert torch.allclose(w_lasso - w_plain, -0.1 * 1e-2 * torch.sign(w0), atol=1e-6)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1})

    def broken_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_killed_and_resumed_run_matches_an_uninterrupted_one(smoke_dir, tmp_path):
    changes = dict(epochs=3, milestones=(0.5,), xi=1e-3, lasso=1e-5)
    full = train(tiny(smoke_dir, tmp_path / "full", **changes))

    class Killed(Exception):
        pass

    def kill_after_second_epoch(epoch, record):
        if epoch == 1:
            raise Killed
    with pytest.raises(Killed):
        train(tiny(smoke_dir, tmp_path / "cut", **changes), on_epoch_end=kill_after_second_epoch)
    resumed = train(tiny(smoke_dir, tmp_path / "cut", **changes))
    a = load_checkpoint(tmp_path / "full" / "last.pt")
    b = load_checkpoint(tmp_path / "cut" / "last.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for k in a["optimizer"]["state"]:
        assert torch.equal(a["optimizer"]["state"][k]["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
    keys = ("train_loss", "lr", "xi", "test_robust_acc")
    assert [[r[k] for k in keys] for r in full["history"]] == [[r[k] for k in keys] for r in resumed["history"]]
    assert [r["lr"] for r in full["history"]] == pytest.approx([0.1, 0.1, 0.01])   # drop after epoch round(1.5)=2
    assert [r["xi"] for r in full["history"]] == pytest.approx([1e-3, 1e-3, 1e-4])
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert resumed["final"] == full["final"]
    # best checkpoint = the first epoch with the highest (robust, clean) test accuracy (robust overfitting)
    keys = [(h["test_robust_acc"], h["test_clean_acc"]) for h in full["history"]]
    assert full["best_epoch"] == resumed["best_epoch"] == keys.index(max(keys)) + 1
    best = load_checkpoint(tmp_path / "full" / "best.pt")
    assert best["epoch"] == full["best_epoch"] and best["metrics"]["test_robust_acc"] == max(keys)[0]


def test_distributed_sampler_shards_are_disjoint_and_cover_the_data():
    shards = [epoch_indices(10, 3, 0, DistInfo(rank=r, world_size=2)) for r in (0, 1)]
    assert set(shards[0].tolist()).isdisjoint(shards[1].tolist())
    assert sorted(shards[0].tolist() + shards[1].tolist()) == list(range(10))


def test_ddp_with_two_gloo_processes(smoke_dir, tmp_path):
    cfg = tiny(smoke_dir, tmp_path / "ddp", epochs=1)
    results = launch(cfg, nproc=2, env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert results["world_size"] == 2
    assert results["cost"]["train_images"] == 48          # 24 per rank, 3 batches of 8 each
    assert (tmp_path / "ddp" / "last.pt").exists() and (tmp_path / "ddp" / "best.pt").exists()
    ck = load_checkpoint(tmp_path / "ddp" / "last.pt")
    init = Trainer(tiny(smoke_dir, tmp_path / "init", epochs=1)).net.state_dict()
    assert not torch.equal(ck["model"]["fc.weight"], init["fc.weight"])  # the ranks trained it
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def test_cli_trains_from_flags(smoke_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli_main(["--data-dir", str(smoke_dir), "--out-dir", str(out), "--depth", "10", "--widen-factor", "1",
                     "--epochs", "1", "--batch-size", "16", "--steps", "1", "--eval-steps", "1",
                     "--eval-subset", "8", "--norm", "linf", "--eps", "0.0314", "--method", "grad_norm",
                     "--frozen", "conv1,block1", "--autoattack", "false", "--progress", "false"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["frozen"] == ["conv1", "block1"] and saved["config"]["norm"] == "linf"
    assert printed["robust_acc"] == saved["final"]["robust_acc"]


def test_autoattack_path_with_a_stand_in_attack(smoke_dir, tmp_path, monkeypatch):
    """The trainer's final AutoAttack evaluation, wired through autoattack_correct (ART itself is
    tested against closed forms in test_robust_accuracy.py; the real ensemble on CIFAR images
    would take minutes here): a stand-in that breaks nothing must give the clean accuracy."""
    import importlib

    from advexplore.classification import predict

    evaluate_module = importlib.import_module("advexplore.gpu.evaluate")  # the package re-exports a function of that name

    calls = []

    def stand_in(model, x, y, eps, norm, clip, batch_size, version):
        calls.append((norm, eps, clip, x.dtype, version, len(x)))
        was_training = model.training
        model.eval()  # as the real one: BatchNorm with its running statistics
        correct = predict(model, x) == y
        model.train(was_training)
        return correct

    monkeypatch.setattr(evaluate_module, "autoattack_correct", stand_in)
    results = train(tiny(smoke_dir, tmp_path / "aa", epochs=1, autoattack=True, norm="linf", eps=8 / 255))
    assert calls == [("linf", 8 / 255, (0.0, 1.0), torch.float32, "standard", 16)]  # the whole test set
    assert results["final"]["autoattack_acc"] == pytest.approx(results["final"]["clean_acc"])
    assert results["final"]["autoattack_n"] == 16
    # the fast version on the first 5 test images (smoke mode's setting): their clean accuracy, by hand
    calls.clear()
    results = train(tiny(smoke_dir, tmp_path / "aa5", epochs=1, autoattack=True, autoattack_version="fast",
                         autoattack_subset=5))
    assert calls == [("l2", 0.5, (0.0, 1.0), torch.float32, "fast", 5)]
    model = Trainer(tiny(smoke_dir, tmp_path / "rebuilt", epochs=1)).net
    model.load_state_dict(load_checkpoint(tmp_path / "aa5" / "best.pt")["model"])
    x, y = load_cifar10(smoke_dir, "test")
    assert results["final"]["autoattack_n"] == 5
    assert results["final"]["autoattack_acc"] == pytest.approx((predict(model.eval(), x[:5]) == y[:5]).float().mean().item())


def _two_rank_worker(rank, port, smoke_dir, tmp_dir, outcome_dir):
    """Body of one gloo process for the tests below (module level, so `spawn` can pickle it)."""
    import os
    from pathlib import Path

    import torch.distributed as dist

    from advexplore.gpu.distributed import broadcast_state

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    info = DistInfo(rank=rank, world_size=2, device=torch.device("cpu"))
    try:
        # broadcast_state: rank 1 starts from other weights and ends with rank 0's
        torch.manual_seed(rank)
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        net[1].running_mean.fill_(float(rank) + 1)
        broadcast_state(net, info)
        torch.save(net.state_dict(), Path(outcome_dir) / f"state{rank}.pt")
        # a resume that only rank 0 can see (out_dir not shared) is refused on every rank
        out = Path(tmp_dir) / f"node{rank}"
        if rank == 0:
            Trainer(tiny(smoke_dir, out, epochs=1)).fit()
        dist.barrier()
        try:
            Trainer(tiny(smoke_dir, out, epochs=2), info)
            message = "no error"
        except RuntimeError as err:
            message = str(err)
        (Path(outcome_dir) / f"resume{rank}.txt").write_text(message)
    finally:
        dist.destroy_process_group()


def test_best_weights_broadcast_and_unshared_out_dir_refused(smoke_dir, tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = tmp_path / "outcome"
    outcome.mkdir()
    mp.spawn(_two_rank_worker, args=(port, str(smoke_dir), str(tmp_path), str(outcome)), nprocs=2)
    s0, s1 = (torch.load(outcome / f"state{r}.pt") for r in (0, 1))
    torch.manual_seed(0)
    reference = torch.nn.Linear(3, 4)                  # rank 0's weights, drawn again here
    assert torch.equal(s1["0.weight"], reference.weight.detach()) and torch.equal(s1["0.bias"], reference.bias.detach())
    assert all(torch.equal(s0[k], s1[k]) for k in s0) and torch.equal(s1["1.running_mean"], torch.ones(4))
    for r in (0, 1):
        assert "1 of 2 processes see" in (outcome / f"resume{r}.txt").read_text()


def test_training_learns_the_smoke_data_and_small_eps_gap_is_first_order(tmp_path):
    """End to end: a tiny WRN trained by the pipeline beats chance (10 %) clearly on held-out
    images of the self-written data (class means plus noise), and its training loss falls.
    Then Taylor's theorem checks evaluate(): for small ε the PGD loss gap max l(x+δ) − l(x)
    is ε‖∇ₓl‖_* + O(ε²), with the dual norm ‖·‖₂ for L2 and ‖·‖₁ for L∞ balls."""
    from advexplore.gpu import evaluate

    data = write_smoke_cifar(tmp_path / "data", n_train=200, n_test=100, seed=3)
    trainer = Trainer(TrainConfig(data_dir=str(data), out_dir=str(tmp_path / "run"), depth=10, widen_factor=1,
                                  epochs=6, batch_size=20, lr=0.05, steps=2, eps=0.1, eval_steps=2,
                                  eval_subset=100, progress=False, autoattack=False))
    res = trainer.fit()
    losses = [h["train_loss"] for h in res["history"]]
    assert losses[-1] < losses[0]
    assert res["final"]["clean_acc"] >= 0.5, res["final"]
    assert res["final"]["robust_acc"] <= res["final"]["clean_acc"] + 0.05
    x, y = trainer.x_test.double() / 255, trainer.y_test
    net = trainer.net.double()
    for norm, eps in (("l2", 1e-3), ("linf", 1e-5)):
        ev = evaluate(net, x, y, eps, norm, steps=20, generator=torch.Generator().manual_seed(0))
        assert ev["surrogate"] > 0
        assert 0.9 < ev["gap"] / ev["surrogate"] < 1.05, (norm, ev)


def test_bf16_channels_last_path_runs_on_cpu(smoke_dir, tmp_path):
    """The fast path's code (bf16 autocast, channels_last) on CPU: finite losses, fp32 weights,
    channels_last kernels, and a first step close to the fp32 step."""
    steps = {}
    for precision in ("fp32", "bf16"):
        t = Trainer(tiny(smoke_dir, tmp_path / precision, precision=precision, channels_last=True, augment=False))
        assert t.net.block1[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
        w0 = t.net.fc.weight.detach().clone()
        out = t.train_step(t.x_train[:16].float() / 255, t.y_train[:16], 0.0)
        assert torch.isfinite(out).all() and t.net.fc.weight.dtype == torch.float32
        steps[precision] = t.net.fc.weight.detach() - w0
    assert t.precision == "bf16"
    cos = F.cosine_similarity(steps["fp32"].flatten(), steps["bf16"].flatten(), dim=0)
    assert cos > 0.9, cos


@pytest.mark.slow
def test_compiled_step_matches_the_eager_step(smoke_dir, tmp_path):
    """torch.compile (the fast path's option) changes speed, not the mathematics: one PGD
    training step from the same weights on the same batch gives the same new weights."""
    updates = {}
    for compiled in (False, True):
        t = Trainer(tiny(smoke_dir, tmp_path / f"c{compiled}", compile=compiled, augment=False, steps=1))
        t.generator.manual_seed(0)
        w0 = torch.cat([p.detach().flatten().clone() for p in t.net.parameters()])
        t.train_step(t.x_train[:16].float() / 255, t.y_train[:16], 0.0)
        updates[compiled] = torch.cat([p.detach().flatten() for p in t.net.parameters()]) - w0
    # fused kernels sum in another order: equal up to float rounding, relative to the step's size
    assert (updates[True] - updates[False]).norm() < 1e-2 * updates[False].norm()  # ~1e-3 seen


def test_repeat_arms_and_arm_summary_reject_bad_input():
    from advexplore.experiments.gpu import arm_summary, repeat_arms

    assert repeat_arms({"a": {"lasso": 1e-5}}, 1, 7) == {"a": {"seed": 7, "lasso": 1e-5}}
    with pytest.raises(ValueError, match="reps"):
        repeat_arms({"a": {}}, 0)
    with pytest.raises(ValueError, match="no runs of arm 'b'"):
        arm_summary({"a rep 0": {"std_acc": 1.0, "adv_acc": 1.0}}, ["b"])


def test_cost_report_flops_of_one_step_counted_by_hand(smoke_dir, tmp_path):
    """The cost report's FLOPs per training step (report.step_flops: the trainer's own step on a
    copy, under count_flops) against the pieces counted here with count_flops on plain torch calls:
    C = forward + backward to the weights (a standard step), A = forward + input gradient (one
    attack step, eval mode). PGD-k = k·A + C exactly, so about (k + 1) standard steps; the
    gradient-norm surrogate's double backward costs more than a standard step; frozen parts
    skip their weight gradients."""
    from advexplore.cost import count_flops
    from advexplore.gpu.trainer import build_model

    k, b = 2, 16
    x, y = load_cifar10(smoke_dir, "train")
    x, y = x[:b], y[:b]  # the images step_flops takes: the first rank batch of the training set

    def standard_step(frozen=()):
        model = build_model(tiny(smoke_dir, tmp_path / "by_hand", frozen=frozen)).train()
        with count_flops() as cost:
            F.cross_entropy(model(x), y).backward()
        return cost.flops

    model = build_model(tiny(smoke_dir, tmp_path / "by_hand")).eval()
    delta = torch.zeros_like(x, requires_grad=True)
    with count_flops() as attack_step:
        torch.autograd.grad(F.cross_entropy(model(x + delta), y), delta)
    clean, frozen, a = standard_step(), standard_step(("conv1", "block1")), attack_step.flops
    costs = {}
    for name, changes in {"pgd": {}, "clean": {"method": "clean"}, "grad_norm": {"method": "grad_norm"},
                          "frozen": {"frozen": ("conv1", "block1")}}.items():
        costs[name] = train(tiny(smoke_dir, tmp_path / name, epochs=1, steps=k, **changes))["cost"]
    assert costs["clean"]["flops_per_step"] == clean > 0 and costs["clean"]["step_images"] == b
    assert costs["pgd"]["flops_per_step"] == k * a + clean
    assert costs["frozen"]["flops_per_step"] == k * a + frozen < costs["pgd"]["flops_per_step"]
    assert (k + 1) / 2 < costs["pgd"]["flops_per_step"] / clean < k + 1  # an attack step: forward + input gradient
    assert costs["grad_norm"]["flops_per_step"] > clean  # a double backward is not one pass
    for cost in costs.values():  # per image and in all: 48 training images, one epoch
        assert cost["flops_per_image"] == pytest.approx(cost["flops_per_step"] / b)
        assert cost["train_images"] == 48 and cost["train_flops"] == pytest.approx(48 * cost["flops_per_image"])
