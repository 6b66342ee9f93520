"""Notebooks 09 (Fig. 4, LASSO vs n) and 10 (paper 003, confidence and margins) executed headless
with tiny parameters on the bundled digits (and 09 on a tiny MNIST directory written here, 10 on
RobustBench-layout WideResNet checkpoints written here). What they saved is recomputed here from
the saved per-run and per-sample numbers, and checked against relations that hold independently
of the code (accuracies are counts over n_test, an attack only removes right answers, a softmax's
maximum is bounded by the logit margin, bisection radii are dyadic fractions of eps_max)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from advexplore.data import load_digits, write_idx

TINY_09 = dict(epochs=30, hidden=64, n_test=100, reps=2, n_grid=[6, 20], attack_steps=3, eval_steps=5)


@pytest.mark.slow
def test_09_lasso_digits(run_notebook):
    r = run_notebook("09_lasso_mnist", **TINY_09)
    assert r["dataset"] == "digits"
    assert math.isclose(r["eps"], 3.0 * 8 / 28)  # ε = 3 on 28×28 scaled to 8×8 pixels
    std, adv = np.array(r["standard"]), np.array(r["adversarial"])  # (n, λ, rep)
    assert std.shape == adv.shape == (2, 2, 2) and r["lambdas"] == [0.0, 0.001]
    for acc in (std, adv):  # an accuracy is a count of correct answers over the 100 test images
        assert np.allclose(acc * 100, np.round(acc * 100), atol=1e-6)
    assert std[-1].min() >= 0.95  # 0 vs 1 from 20 images: nearly perfect on clean test images
    assert adv.min() < 1.0  # the scaled ε attack does bite
    # both attacks side by side: every accuracy is the mean of the saved per-image answers, and an
    # image right under an attack was right clean (so both robust accuracies ≤ standard accuracy)
    assert r["autoattack_mode"] == "fast"
    aa, both = np.array(r["autoattack"]), np.array(r["combined"])
    clean, pgd_ok, aa_ok = (np.array(r[k], bool) for k in ("clean_correct", "pgd_correct", "autoattack_correct"))
    assert clean.shape == pgd_ok.shape == aa_ok.shape == (2, 2, 2, 100)
    for acc, per_image in ((std, clean), (adv, pgd_ok), (aa, aa_ok), (both, pgd_ok & aa_ok)):
        assert np.allclose(acc, per_image.mean(axis=3), atol=1e-6)
    assert not (pgd_ok & ~clean).any() and not (aa_ok & ~clean).any()
    assert (aa <= std + 1e-9).all() and (both <= np.minimum(adv, aa) + 1e-9).all()
    # the attack table: medians over the two repetitions (torch: the lower middle) and counts, by hand
    for row in r["attack_comparison"]:
        i, j = r["n"].index(row["n"]), r["lambdas"].index(row["lam"])
        assert row["pgd"] == pytest.approx(adv[i, j].min()) and row["autoattack"] == pytest.approx(aa[i, j].min())
        assert row["autoattack_tighter"] == int((aa[i, j] < adv[i, j]).sum())
        assert row["autoattack_tighter"] + row["equal"] + row["pgd_tighter"] == 2
    # paired gain by hand: the same sample and initialisation trained with λ and with λ = 0
    assert r["mean_gain"] == pytest.approx({"0": 0.0, "0.001": float(np.mean(adv[:, 1] - adv[:, 0]))}, abs=1e-12)
    # medians over the repetitions by hand (torch's median: the lower middle value of an even count)
    lower_middle = np.sort(adv, axis=2)[:, :, (adv.shape[2] - 1) // 2]  # (n, λ)
    for j, lam in enumerate(("0", "0.001")):
        assert r["median_adversarial"][lam] == pytest.approx(list(lower_middle[:, j]), abs=1e-12)


@pytest.mark.slow
def test_09_reads_an_mnist_directory(run_notebook, tmp_path):
    """A fake 28×28 'MNIST' (digits 0/1 upsampled) written in the IDX format: the notebook must
    take data_dir, use the MNIST ε = 3 unscaled, and run."""
    x, y = load_digits((0, 1))
    images = np.pad(np.kron(x[:, 0].numpy(), np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) * 255  # 8·3 + 4 = 28
    images = images.astype(np.uint8)  # (360, 28, 28)
    labels = y.numpy().astype(np.uint8)
    for prefix, rows in (("train", slice(0, 200)), ("t10k", slice(200, None))):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images[rows])
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels[rows])
    r = run_notebook("09_lasso_mnist", data_dir=str(tmp_path), epochs=3, hidden=16, n_test=40, reps=1,
                     n_grid=[4], attack_steps=2, eval_steps=2, autoattack="off")
    assert r["dataset"] == "mnist" and r["eps"] == 3.0
    assert r["config"]["n_test"] == 40 and np.array(r["standard"]).shape == (1, 2, 1)
    assert np.allclose(np.array(r["standard"]) * 40, np.round(np.array(r["standard"]) * 40), atol=1e-6)
    assert r["autoattack"] is None and r["autoattack_correct"] is None and r["attack_comparison"] == []


@pytest.mark.slow
def test_10_confidence_and_margins(run_notebook):
    bisections = 3
    r = run_notebook("10_confidence_and_margins", eps_grid=[0.0, 0.5], epochs=10, hidden=64, n_test=100,
                     bisections=bisections, lipschitz_samples=16, eval_steps=10)
    assert r["dataset"] == "digits" and r["eps"] == [0.0, 0.5] and r["num_classes"] == 10
    assert r["eps_max"] == pytest.approx(1.0)  # default: twice the largest training ε
    assert r["rows"][0]["standard_accuracy"] > 0.7
    for row in r["rows"]:
        key = f"{row['eps']:.1f}"
        # strict JSON: a distance beyond eps_max (inf in the library) is saved as null
        conf, logit, dist = (np.array([np.inf if v is None else v for v in r[k][key]], float)
                             for k in ("confidence", "logit_margin", "boundary_distance"))
        assert conf.shape == logit.shape == dist.shape == (100,)
        # the summary row from the per-sample numbers, by hand
        assert row["mean_confidence"] == pytest.approx(conf.mean(), rel=1e-6)
        assert row["median_logit_margin"] == pytest.approx(np.median(logit), rel=1e-6)
        assert row["median_distance"] == pytest.approx(np.median(dist), rel=1e-6)
        # a correct answer is a positive logit margin; PGD at ε = 0 changes nothing
        correct = logit > 0
        assert row["standard_accuracy"] == pytest.approx(correct.mean(), abs=1e-6)  # float32
        assert row["adversarial_accuracy"][0] == pytest.approx(row["standard_accuracy"], abs=1e-6)
        # PGD and AutoAttack at every ε of the grid: means of the saved per-image answers, which an
        # attack can only turn from right to wrong (nothing attacked at ε = 0)
        pgd_ok, aa_ok = (np.array(r[k][key], bool) for k in ("pgd_correct", "autoattack_correct"))
        assert pgd_ok.shape == aa_ok.shape == (2, 100)
        assert (pgd_ok[0] == correct).all() and (aa_ok[0] == correct).all()
        assert not (pgd_ok & ~correct).any() and not (aa_ok & ~correct).any()
        assert row["adversarial_accuracy"] == pytest.approx(list(pgd_ok.mean(axis=1)), abs=1e-6)
        assert row["autoattack_accuracy"] == pytest.approx(list(aa_ok.mean(axis=1)), abs=1e-6)
        assert row["combined_accuracy"] == pytest.approx(list((pgd_ok & aa_ok).mean(axis=1)), abs=1e-6)
        # softmax: 1/K ≤ max_k p_k, and for a correct answer with margin m,
        # 1/(1 + (K − 1)e^{−m}) ≤ p_y = max_k p_k ≤ 1/(1 + e^{−m})
        assert (conf >= 0.1 - 1e-6).all() and (conf <= 1 + 1e-6).all()
        m = logit[correct]
        assert (conf[correct] >= 1 / (1 + 9 * np.exp(-m)) - 1e-5).all()
        assert (conf[correct] <= 1 / (1 + np.exp(-m)) + 1e-5).all()
        # boundary distance: 0 for wrong answers; otherwise a bisection radius k·eps_max/2^b, or +inf
        assert (dist[~correct] == 0).all() and (dist[correct] > 0).all()
        finite = dist[np.isfinite(dist) & correct] / r["eps_max"] * 2**bisections
        assert np.allclose(finite, np.round(finite)) and (finite <= 2**bisections).all()


@pytest.mark.slow
def test_10_on_robustbench_checkpoints(run_notebook, robustbench_wrns, wrn_by_hand):
    """Notebook 10 on models researchers already have: two RobustBench-layout WRN-10-1 checkpoints
    on CIFAR-format data, nothing trained. The numbers it saved against the same models and files
    read here independently (our own WideResNet with the un-renamed weights)."""
    from advexplore.data import load_cifar10

    n_test, eps, w = 8, 8 / 255, robustbench_wrns
    r = run_notebook("10_confidence_and_margins", checkpoint=w["robust"], reference_checkpoint=w["standard"],
                     wrn_depth=10, widen_factor=1, data_dir=w["data_dir"], eps_grid=[0.0, eps], norm="linf",
                     n_test=n_test, bisections=2, eval_steps=3, lipschitz_samples=4, autoattack="fast")
    assert r["dataset"] == "cifar10" and r["checkpoints"] == [w["standard"], w["robust"]]
    assert r["eps"] == [0.0, pytest.approx(eps)] and r["config"]["autoattack"] == "fast"
    x, y = load_cifar10(w["data_dir"], "test")
    x, y = x[:n_test], y[:n_test]
    for row, name in zip(r["rows"], ("standard", "robust")):
        key = str(row["eps"])
        logits, correct, _, _ = wrn_by_hand(w["states"][name], x, y, eps)
        assert row["standard_accuracy"] == pytest.approx(correct.mean(), abs=1e-6)
        others = np.where(np.eye(10, dtype=bool)[y.numpy()], -np.inf, logits).max(1)
        margin = logits[np.arange(n_test), y.numpy()] - others
        assert np.allclose(r["logit_margin"][key], margin, atol=1e-4)
        p = np.exp(logits - logits.max(1, keepdims=True))
        assert np.allclose(r["confidence"][key], (p / p.sum(1, keepdims=True)).max(1), atol=1e-5)
        pgd_ok, aa_ok = (np.array(r[k][key], bool) for k in ("pgd_correct", "autoattack_correct"))
        assert (pgd_ok[0] == correct).all() and not (pgd_ok[1] & ~correct).any() and not (aa_ok[1] & ~correct).any()
        assert row["adversarial_accuracy"] == pytest.approx(list(pgd_ok.mean(axis=1)), abs=1e-6)
        assert row["autoattack_accuracy"] == pytest.approx(list(aa_ok.mean(axis=1)), abs=1e-6)
        assert len(row["lipschitz"]) == 1 and row["lipschitz"][0] > 0  # a WideResNet: the logits only
    # one checkpoint alone, AutoAttack off: the same numbers for that model, none for AutoAttack
    alone = run_notebook("10_confidence_and_margins", checkpoint=w["robust"], wrn_depth=10, widen_factor=1,
                         data_dir=w["data_dir"], eps_grid=[eps], norm="linf", n_test=n_test, bisections=2,
                         eval_steps=3, lipschitz_samples=4, autoattack="off")
    assert alone["checkpoints"] == [w["robust"]] and len(alone["rows"]) == 1
    assert alone["rows"][0]["standard_accuracy"] == r["rows"][1]["standard_accuracy"]
    assert alone["rows"][0]["autoattack_accuracy"] == [None]
    assert alone["logit_margin"][str(alone["rows"][0]["eps"])] == pytest.approx(r["logit_margin"][str(r["rows"][1]["eps"])])


def test_widgets_switch_cached_results():
    """The sliders only swap cached numbers: the compared net's confidence histogram and the
    paired-repetition panel must show exactly the selected entry."""
    import torch

    from advexplore.experiments.confidence_and_margins import ConfidenceConfig, confidence_study
    from advexplore.data import load_task
    from advexplore.experiments.lasso_mnist import LassoConfig, lasso_mnist_experiment
    from advexplore.widgets.confidence_and_margins import ConfidenceView
    from advexplore.widgets.lasso_mnist import LassoView

    torch.set_num_threads(1)
    task = load_task("", classes=(0, 1), seed=0)
    study = confidence_study(task, ConfidenceConfig(eps_grid=(0.0, 0.3, 0.6), hidden=8, depth=1, epochs=1, n_test=20,
                                                    bisections=2, eval_steps=2, attack_steps=1, lipschitz_samples=4),
                             progress=False)
    view = ConfidenceView(study)
    for k, eps in enumerate(study["eps"]):
        view.update(eps=eps)
        np.testing.assert_allclose(view.figure.data[4].x, study["reports"][k]["confidence"].numpy(), rtol=1e-6)
        assert f"ε = {eps:g}" in view.figure.layout.title.text
    with pytest.raises(ValueError, match="trained values"):
        view.update(eps=0.45)
    results = lasso_mnist_experiment(task, LassoConfig(n_grid=(4, 6), reps=2, epochs=1, hidden=8, n_test=10,
                                                 attack_steps=1, eval_steps=1), progress=False)
    lasso = LassoView(results)
    lasso.update(metric="standard", n=6)
    pairs = [trace.y for trace in lasso.figure.data[2:]]
    assert [list(p) for p in pairs] == [[results["standard"][1][0][r], results["standard"][1][1][r]] for r in range(2)]
    assert "n = 6" in lasso.figure.layout.annotations[1].text
