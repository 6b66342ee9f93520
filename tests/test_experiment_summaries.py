"""The summaries the notebooks assert on and save, computed by advexplore.experiments.*, checked
against computations written out here (the statistics module, explicit loops, the papers' tables)."""
import math
import random
import statistics

import numpy as np
import pytest
import torch

from advexplore.experiments import gpu
from advexplore.experiments.adversarial_vs_regularized import (bracket_violations, cost_ratios, input_gradient_gap,
                                                               linear_mismatch, pgd_excess_over_exhaustive,
                                                               theta_distance, training_summary)
from advexplore.experiments.confidence_and_margins import summary_rows
from advexplore.experiments.lasso_mnist import paired_gain
from advexplore.experiments.linear_training import count_rises, rises_per_xi
from advexplore.experiments.two_layer_lazy import final_risks_over_v2
from advexplore.experiments.width_and_robust_training import interpolation_threshold


def test_lasso_table_picks_the_papers_table_by_norm():
    one, two = gpu.lasso_table("l2"), gpu.lasso_table("linf")
    # paper 002, Table 1 (L2, ε = 0.5) and Table 2 (L∞, ε = 8/255), λ = 1e-5
    assert (one.number, one.norm, one.eps, one.lasso) == (1, "l2", 0.5, 1e-5)
    assert (two.number, two.norm, two.lasso) == (2, "linf", 1e-5) and two.eps == pytest.approx(0.031372549)
    assert one.paper == {"benchmark": (84.35, 61.76), "LASSO": (86.57, 63.07)}
    assert two.paper == {"benchmark": (82.87, 50.34), "LASSO": (84.80, 54.26)}
    assert one.paper_sd["LASSO"] == (0.214, 0.292) and two.paper_sd["benchmark"] == (0.131, 0.315)
    assert one.attack_eps(0.0) == 0.5 and one.attack_eps(0.25) == 0.25
    with pytest.raises(ValueError, match="Table 1: l2"):
        gpu.lasso_table("l1")


def _history(values, skip=()):
    return [{"epoch": e + 1, **({} if e in skip else {"acc": v})} for e, v in enumerate(values)]


def test_history_band_is_mean_and_sample_sd_per_epoch():
    rng = random.Random(0)
    runs = [[rng.random() for _ in range(5)] for _ in range(3)]
    epochs, mean, sd = gpu.history_band([_history(r, skip={1}) for r in runs], "acc", scale=100)
    assert epochs == [1, 3, 4, 5]
    for i, e in enumerate([0, 2, 3, 4]):
        column = [100 * r[e] for r in runs]
        assert mean[i] == pytest.approx(statistics.mean(column)) and sd[i] == pytest.approx(statistics.stdev(column))
    assert gpu.history_band([_history([0.5, 0.7])], "acc")[2] == [0.0, 0.0]  # one run: sd 0
    with pytest.raises(ValueError, match="different epochs"):
        gpu.history_band([_history([0.1, 0.2]), _history([0.1, 0.2], skip={0})], "acc")


def test_fig2_curves_and_summary_by_hand():
    results = {f"xi={xi:g} rep {r}": {"history": [{"epoch": e, "test_clean_acc": 0.1 * e + xi + r,
                                                   "test_robust_acc": 0.05 * e * (r + 1)} for e in (1, 2)]}
               for xi in (0.0, 0.5) for r in range(2)}
    curves = gpu.fig2_epoch_curves(results, [0.0, 0.5], 2)
    assert set(curves) == {"ξ=0 clean", "ξ=0.5 clean", "ξ=0 PGD", "ξ=0.5 PGD"}
    epochs, mean, sd = curves["ξ=0.5 clean"]
    # runs r = 0, 1 differ by exactly 1 (×100 %): mean = 100(0.1e + 0.5) + 50, sd = 100/√2
    assert epochs == [1, 2] and mean == pytest.approx([110, 120]) and sd == pytest.approx([100 / math.sqrt(2)] * 2)
    band = gpu.eps_band([[{"eps": 0.0, "robust_acc": 0.8}, {"eps": 1.0, "robust_acc": 0.4}],
                         [{"eps": 0.0, "robust_acc": 0.6}, {"eps": 1.0, "robust_acc": 0.4}]])
    assert band[0] == [0.0, 1.0] and band[1] == pytest.approx([70, 40]) and band[2] == pytest.approx([math.sqrt(200), 0])
    with pytest.raises(ValueError, match="different ε"):
        gpu.eps_band([[{"eps": 0.0, "robust_acc": 1}], [{"eps": 0.5, "robust_acc": 1}]])
    rows = {"xi=0 rep 0": {"std_acc": 80.0, "adv_acc": 50.0}, "xi=0 rep 1": {"std_acc": 84.0, "adv_acc": 52.0}}
    summary = gpu.xi_summary(gpu.arm_summary(rows, ["xi=0"]), [0.0])
    assert summary == {"0": {"std_acc": pytest.approx((82.0, statistics.stdev([80, 84]))),
                             "adv_acc": pytest.approx((51.0, statistics.stdev([50, 52])))}}


def test_count_rises_by_a_loop():
    rng = np.random.default_rng(0)
    curve = np.cumsum(rng.normal(size=200))
    curve[50] = curve[49] + 1e-12                        # a rise below the tolerance does not count
    by_loop = sum(1 for t in range(len(curve) - 1) if curve[t + 1] - curve[t] > 1e-9)
    assert count_rises(curve) == by_loop and count_rises(np.arange(5.0)[::-1]) == 0
    result = {"xis": [0.0, 0.05], "train_loss": torch.tensor(np.stack([curve, np.linspace(1, 0, 200)]))}
    assert rises_per_xi(result) == {0.0: by_loop, 0.05: 0}


def test_paired_gain_by_loops():
    rng = np.random.default_rng(1)
    acc = rng.random((3, 3, 4))  # (n, λ, rep)
    gain = paired_gain({"adversarial": acc.tolist(), "lambda": [0.0, 1e-3, 1e-2]})
    for j, lam in enumerate([0.0, 1e-3, 1e-2]):
        pairs = [acc[i, j, r] - acc[i, 0, r] for i in range(3) for r in range(4)]
        assert gain[lam] == pytest.approx(sum(pairs) / len(pairs), abs=1e-14)


def test_final_risks_over_v2_and_interpolation_threshold():
    hd = {"train": [[5.0, 0.2], [4.0, 0.4]], "test_surrogate": [[9.0, 10.0], [9.0, 12.0]],
          "test_pgd": [[9.0, 11.0], [9.0, 11.0]], "v2": 11.0}
    assert final_risks_over_v2(hd) == pytest.approx({"train": 0.3 / 11, "test_surrogate": 1.0, "test_pgd": 1.0})
    assert interpolation_threshold({"variance_of_y": 6.0}, 0.05) == pytest.approx(0.3)


def test_explorer_summaries_by_hand():
    curves = {"pgd": [1.0, 2.0, 4.0], "weight_norm": [1.0, 2.5, 5.0], "input_gradient": [1.0, 1.9, 4.6],
              "pgd_subset": [1.0, 2.1, 3.9], "exhaustive": [1.0, 2.0, 4.0]}
    assert linear_mismatch(curves) == pytest.approx(1.0)            # |4 − 5| is the largest
    assert input_gradient_gap(curves) == pytest.approx([0.0, 0.1, 0.6])
    assert pgd_excess_over_exhaustive(curves) == pytest.approx(0.1)
    assert pgd_excess_over_exhaustive({**curves, "exhaustive": None}) is None
    runs = {"adversarial": {"theta": torch.tensor([1.0, 2.0]),
                            "cost": {"passes": 13, "seconds": 0.5, "flops": 2400, "flops_per_step": 240},
                            "test_standard_risk": 1.0, "test_adversarial_risk": 2.0},
            "regularized": {"theta": torch.tensor([4.0, 6.0]),
                            "cost": {"passes": 2, "seconds": 0.1, "flops": 1000, "flops_per_step": 100},
                            "test_standard_risk": 1.5, "test_adversarial_risk": 2.5, "distance_to_adversarial": 0.3}}
    assert theta_distance(runs) == pytest.approx(5.0)                 # a 3-4-5 triangle
    assert training_summary(runs) == {
        "adversarial": {"passes": 13, "flops": 2400, "flops_per_step": 240, "seconds": 0.5, "test_standard_risk": 1.0,
                        "test_adversarial_risk": 2.0, "distance_to_adversarial": None},
        "regularized": {"passes": 2, "flops": 1000, "flops_per_step": 100, "seconds": 0.1, "test_standard_risk": 1.5,
                        "test_adversarial_risk": 2.5, "distance_to_adversarial": 0.3}}
    # adversarial ÷ regularised in each measure: 13/2 passes, 2400/1000 FLOPs, 0.5/0.1 s
    assert cost_ratios(runs) == pytest.approx({"passes": 6.5, "flops": 2.4, "seconds": 5.0})
    with pytest.raises(KeyError):
        training_summary({"old": {"cost": {"passes": 2, "seconds": 0.1}, "test_standard_risk": 1.0,
                                  "test_adversarial_risk": 1.0}})   # a run without FLOPs is not summarised


def test_bracket_violations_name_each_broken_pair():
    risk = {"pgd": [1.0, 2.0], "exact": [1.0, 1.9], "lp": [1.5, 2.5], "crown": [1.4, 3.0], "ibp": [2.0, 4.0],
            "weight_norm": [9.0, 9.0]}
    bracket = {"eps": [0.5, 1.0], "risk": risk}
    # by hand: pgd 2.0 > exact 1.9 at ε = 1; lp 1.5 > crown 1.4 at ε = 0.5; everything else is ordered
    assert bracket_violations(bracket) == ["pgd > exact at ε = 1", "lp > crown at ε = 0.5"]
    assert bracket_violations(bracket, rtol=0.1) == []       # 2.0 ≤ 1.9 × 1.1 and 1.5 ≤ 1.4 × 1.1
    without_exact = {"eps": [0.5, 1.0], "risk": {k: v for k, v in risk.items() if k != "exact"}}
    assert bracket_violations(without_exact) == ["lp > crown at ε = 0.5"]          # pairs with exact are skipped


def test_confidence_summary_rows_by_hand():
    report = {"confidence": torch.tensor([0.9, 0.5, 0.7, 1.0]), "logit_margin": torch.tensor([2.0, -1.0, 0.5, 3.0]),
              "margin": torch.tensor([0.5, 0.0, float("inf"), 0.25]), "standard_accuracy": 0.75,
              "lipschitz": {"local": torch.tensor([3.0, 2.0]), "uniformity": torch.tensor([0.5, 0.25])}}
    odd = {**report, "confidence": torch.tensor([0.2, 0.9, 0.4]), "logit_margin": torch.tensor([-1.0, 5.0, 0.1]),
           "margin": torch.tensor([0.0, float("inf"), 0.5])}
    study = {"eps": [0.0, 0.5], "reports": [report, odd], "adversarial_accuracy": [[0.75, 0.25], [0.7, 0.5]]}
    first, second = summary_rows(study)
    # 4 samples: the median is the mean of the two middle values; an infinite middle value gives inf
    assert first["mean_confidence"] == pytest.approx(0.775) and first["median_logit_margin"] == pytest.approx(1.25)
    assert first["median_distance"] == pytest.approx(0.375)
    assert second["median_logit_margin"] == pytest.approx(0.1) and second["median_distance"] == pytest.approx(0.5)
    assert math.isinf(summary_rows({**study, "reports": [{**report, "margin": torch.tensor([0.1, 0.2, math.inf, math.inf])}] * 2})[0]["median_distance"])
    assert first["adversarial_accuracy"] == [0.75, 0.25] and first["eps"] == 0.0 and second["eps"] == 0.5
    assert first["lipschitz"] == [3.0, 2.0] and first["uniformity"] == [0.5, 0.25] and first["standard_accuracy"] == 0.75
