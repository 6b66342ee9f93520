"""The GPU notebooks (notebooks/gpu/) executed headless in smoke mode on CPU: a tiny
self-written CIFAR-format data set, a WRN-10-1, 2-step PGD, a couple of epochs; AutoAttack's
fast version on the first 4 test images; gap_wrn also on a RobustBench-layout checkpoint."""
import math
import statistics

import pytest
import torch.nn.functional as F

from advexplore.classification import predict
from advexplore.cost import count_flops
from advexplore.data import load_cifar10
from advexplore.gpu import TrainConfig, build_model, load_checkpoint


def first_images_clean_accuracy(config: dict, k: int = 4) -> float:
    """Clean accuracy of a finished run's best checkpoint on the first k test images, from the files."""
    model = build_model(TrainConfig.from_dict(config))
    model.load_state_dict(load_checkpoint(f"{config['out_dir']}/best.pt")["model"])
    x, y = load_cifar10(config["data_dir"], "test")
    return (predict(model.eval(), x[:k]) == y[:k]).float().mean().item()


def check_autoattack_beside_pgd(row: dict, config: dict) -> None:
    """Smoke mode shows AutoAttack's number (fast version, 4 images) in a run's summary row: a
    count over those 4 images, at most their clean accuracy (an attack only removes right answers)."""
    assert row["autoattack"] == "fast, first 4 images" and row["autoattack_acc"] is not None
    assert row["autoattack_acc"] / 25 == pytest.approx(round(row["autoattack_acc"] / 25))
    assert row["autoattack_acc"] <= 100 * first_images_clean_accuracy(config) + 1e-6

# paper 002, Tables 1 and 2 (§3.2, §4), typed in from the paper: std / adv accuracy (%), and their sd
PAPER = {"l2": (1, 0.5, {"benchmark": [84.35, 61.76], "LASSO": [86.57, 63.07]},
                {"benchmark": [0.355, 0.204], "LASSO": [0.214, 0.292]}),
         "linf": (2, 8 / 255, {"benchmark": [82.87, 50.34], "LASSO": [84.80, 54.26]},
                  {"benchmark": [0.131, 0.315], "LASSO": [0.282, 0.376]})}


@pytest.mark.slow
@pytest.mark.parametrize("norm,reps", [("l2", 1), ("linf", 2)])
def test_tables_notebook_in_smoke_mode(run_notebook, norm, reps):
    """One notebook for both tables: `norm` picks Table 1 (l2, ε = 0.5) or Table 2 (linf, ε = 8/255)."""
    out = run_notebook("gpu/tables_lasso", norm=norm, smoke=True, smoke_epochs=2, smoke_reps=reps)
    number, eps, paper, paper_sd = PAPER[norm]
    assert out["table"] == number and math.isclose(out["eps"], eps)
    assert out["smoke"] and out["paper"] == paper and out["paper_sd"] == paper_sd and out["reps"] == reps
    assert set(out["rows"]) == {"benchmark", "LASSO"}
    names = {arm: [arm] if reps == 1 else [f"{arm} rep {r}" for r in range(reps)] for arm in out["rows"]}
    assert set(out["runs"]) == {n for ns in names.values() for n in ns}
    for arm, row in out["rows"].items():
        runs = [out["runs"][n] for n in names[arm]]
        for key in ("std_acc", "adv_acc"):  # mean and sample sd over the runs, recomputed here
            values = [r[key] for r in runs]
            assert row[key] == pytest.approx(statistics.mean(values))
            sd = statistics.stdev(values) if reps > 1 else 0.0
            assert row[key.replace("acc", "sd")] == pytest.approx(sd, abs=1e-12)
        assert row["runs"] == reps and row["seconds"] == pytest.approx(sum(r["seconds"] for r in runs))
        assert 0 <= row["adv_acc"] <= 100 and 0 <= row["std_acc"] <= 100
        assert row["passes_per_image"] == 3          # PGD-2 in smoke mode: 2 attack passes + the update
        assert row["images_per_s"] > 0 and row["seconds"] > 0 and row["flops_per_image"] > 0
        assert row["train_flops"] == pytest.approx(sum(r["train_flops"] for r in runs))
        for n in names[arm]:
            check_autoattack_beside_pgd(out["runs"][n], out["configs"][n])
            assert [h["epoch"] for h in out["histories"][n]] == [1, 2]
            assert out["configs"][n]["norm"] == norm and math.isclose(out["configs"][n]["eps"], eps)
            assert out["configs"][n]["lasso"] == (1e-5 if arm == "LASSO" else 0)
    assert sorted({out["configs"][n]["seed"] for n in out["configs"]}) == list(range(reps))


@pytest.mark.slow
def test_fig2_notebook_xi_schedule_and_eps_curves(run_notebook):
    out = run_notebook("gpu/fig2_surrogate_resnet", smoke=True, smoke_epochs=4, smoke_reps=2)
    # paper 002 Fig. 2: ξ = 1e-3, ×0.1 at each lr drop; lr drops at round(0.75·4) = 3 and round(0.9·4) = 4
    assert out["xi_schedule"]["xi=0.001 rep 0"] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4])
    assert out["xi_schedule"]["xi=0 rep 1"] == [0, 0, 0, 0]
    assert out["reps"] == 2 and set(out["summary"]) == {"0", "0.001"}
    for row in out["rows"].values():  # AutoAttack beside PGD in the table: fast, a count over 4 images
        assert row["autoattack"] == "fast, first 4 images" and row["autoattack_acc"] / 25 == round(row["autoattack_acc"] / 25)
    for xi in ("0", "0.001"):
        runs = [f"xi={xi} rep {r}" for r in range(2)]
        eps, mean, sd = out["eps_curves"][f"ξ={xi} PGD"]
        assert eps[0] == 0.0 and len(mean) == len(sd) == len(eps)
        # at ε = 0 the attack is void: the curve starts at the runs' mean clean accuracy
        clean = [out["rows"][n]["std_acc"] for n in runs]
        assert mean[0] == pytest.approx(sum(clean) / 2)
        # the epoch curves: mean and sample sd over the two runs at every epoch, from the raw histories
        for kind, key in (("clean", "test_clean_acc"), ("PGD", "test_robust_acc")):
            epochs, mean, sd = out["epoch_curves"][f"ξ={xi} {kind}"]
            assert epochs == [1, 2, 3, 4]
            for e in range(4):
                a, b = (100 * out["histories"][n][e][key] for n in runs)
                assert mean[e] == pytest.approx((a + b) / 2) and sd[e] == pytest.approx(abs(a - b) / math.sqrt(2))
        # the final numbers: mean ± sd of the runs' best-checkpoint accuracies (sd of two values = |a − b|/√2)
        for key in ("std_acc", "adv_acc"):
            a, b = (out["rows"][n][key] for n in runs)
            assert out["summary"][xi][key] == pytest.approx([(a + b) / 2, abs(a - b) / math.sqrt(2)])


@pytest.mark.slow
def test_gap_wrn_notebook(run_notebook):
    out = run_notebook("gpu/gap_wrn", smoke=True, smoke_epochs=2)
    rows = out["rows"]
    assert set(rows) == {"AT-PGD", "AT-PGD, frozen conv1+block1", "gradient-norm regulariser", "standard"}
    assert rows["AT-PGD"]["passes_per_image"] == 3 and rows["gradient-norm regulariser"]["passes_per_image"] == 2
    assert rows["standard"]["passes_per_image"] == 1
    for arm in rows:
        final = out["finals"][arm]
        # the gap is the PGD-20 test loss minus the clean test loss; accuracies are counts over n images
        assert out["gap"][arm] == pytest.approx(final["robust_loss"] - final["clean_loss"], abs=1e-9)
        assert out["regulariser"][arm] == pytest.approx(final["surrogate"]) and final["surrogate"] >= 0
        for key in ("clean_acc", "robust_acc"):
            assert final[key] * final["n"] == pytest.approx(round(final[key] * final["n"]), abs=1e-6)
        assert rows[arm]["std_acc"] == pytest.approx(100 * final["clean_acc"])
        check_autoattack_beside_pgd(rows[arm], out["configs"][arm])
        assert final["autoattack_n"] == 4 and rows[arm]["autoattack_acc"] == pytest.approx(100 * final["autoattack_acc"])
    # cost in FLOPs: a standard step counted here by hand (count_flops of one forward/backward of
    # the arm's WRN-10-1 on one batch of the training images), the others against it
    costs, config = out["costs"], out["configs"]["standard"]
    b = costs["standard"]["step_images"]
    x, y = load_cifar10(config["data_dir"], "train")
    model = build_model(TrainConfig.from_dict(config)).train()
    with count_flops() as clean:
        F.cross_entropy(model(x[:b]), y[:b]).backward()
    assert costs["standard"]["flops_per_step"] == clean.flops > 0
    k = out["configs"]["AT-PGD"]["steps"]
    assert (k + 1) / 2 < costs["AT-PGD"]["flops_per_step"] / clean.flops < k + 1  # ≈ k attack steps + the update
    assert costs["gradient-norm regulariser"]["flops_per_step"] > clean.flops        # a double backward is not one pass
    for arm, cost in costs.items():
        assert rows[arm]["flops_per_image"] == pytest.approx(cost["flops_per_step"] / b)
        assert rows[arm]["train_flops"] == pytest.approx(cost["train_images"] * rows[arm]["flops_per_image"])


@pytest.mark.slow
def test_gap_wrn_on_a_robustbench_checkpoint(run_notebook, robustbench_wrns, wrn_by_hand):
    """gap_wrn with `checkpoint`: nothing trained, the RobustBench-layout WRN-10-1 evaluated on the
    test images of data_dir; its clean accuracy and loss, and the regulariser ε‖∇ₓl‖₁ (L∞),
    recomputed here from the same files with our own WideResNet and the un-renamed weights."""
    w, eps = robustbench_wrns, 8 / 255
    out = run_notebook("gpu/gap_wrn", checkpoint=w["robust"], depth=10, widen_factor=1, data_dir=w["data_dir"],
                       norm="linf", eps=eps, smoke=True)
    assert set(out["rows"]) == {"checkpoint"} and out["checkpoint"] == w["robust"]
    row, final = out["rows"]["checkpoint"], out["finals"]["checkpoint"]
    x, y = load_cifar10(w["data_dir"], "test")
    _, correct, losses, regulariser = wrn_by_hand(w["states"]["robust"], x, y, eps)
    assert final["n"] == len(y) == 16
    assert final["clean_acc"] == pytest.approx(correct.mean()) and row["std_acc"] == pytest.approx(100 * correct.mean())
    assert final["clean_loss"] == pytest.approx(losses.mean(), rel=1e-4)
    assert final["surrogate"] == pytest.approx(regulariser.mean(), rel=1e-3)
    assert out["gap"]["checkpoint"] == pytest.approx(final["robust_loss"] - final["clean_loss"], abs=1e-9)
    # AutoAttack (fast, first 4 images) beside PGD, at most the clean accuracy of those images
    assert row["autoattack"] == "fast, first 4 images" and final["autoattack_n"] == 4
    assert final["autoattack_acc"] <= correct[:4].mean() + 1e-9
    assert row["flops_per_image"] is None and row["best_epoch"] is None and out["costs"]["checkpoint"] is None
