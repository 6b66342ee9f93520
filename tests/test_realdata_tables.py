"""The tables and checks that put PGD beside AutoAttack and FLOPs beside wall time (issue 14:
notebooks 08, 09, 10 and the GPU notebooks): every cell shows the number it was given, or says
why there is none; the parameters and arguments are refused by name."""
import pytest
import torch

from advexplore.app.params import ParameterError, check_parameters
from advexplore.experiments.confidence_and_margins import ConfidenceConfig, checkpoint_study
from advexplore.experiments.gpu import autoattack_label, summary_row
from advexplore.experiments.width_and_robust_training import flops_ratio
from advexplore.plots.confidence_and_margins import accuracy_table, single_net_figure
from advexplore.plots.gpu import gap_vs_surrogate, results_table
from advexplore.plots.lasso_mnist import attack_table, lasso_boxplot
from advexplore.plots.width_and_robust_training import cost_table
from advexplore.widgets.lasso_mnist import LassoView


def _cells(fig) -> dict:
    table = fig.data[0]
    return dict(zip(table.header.values, (list(c) for c in table.cells.values)))


def _results(aa_config: dict, autoattack_acc, cost):
    final = dict(clean_acc=0.5, robust_acc=0.25, gap=0.1, surrogate=0.05, autoattack_acc=autoattack_acc)
    return {"final": final, "cost": cost, "best_epoch": 2 if cost else None, "config": aa_config}


COST = dict(seconds=10.0, gpu_hours=0.0, images_per_s=4.8, passes_per_image=3, peak_memory_gb=1.0,
            flops_per_image=2.5e9, train_flops=1.2e14)


def test_gpu_table_shows_autoattack_beside_pgd_or_why_not_and_measured_flops():
    rows = {"fast": summary_row(_results(dict(autoattack=True, autoattack_version="fast", autoattack_subset=4),
                                         0.125, COST)),
            "off": summary_row(_results(dict(autoattack=False), None, COST)),
            "missing": summary_row(_results(dict(autoattack=True, autoattack_version="standard"), None, COST)),
            "checkpoint": summary_row(_results(dict(autoattack=True, autoattack_version="standard"), 0.5, None))}
    cells = _cells(results_table(rows))
    aa = cells["AutoAttack (%, usually the tighter upper bound)"]
    assert aa == ["12.50 (fast, first 4 images)", "off", "– (needs the attacks extra)", "50.00 (standard)"]
    assert cells["adv acc PGD-20 (this run, %, upper bound)"][0] == "25.00"
    assert cells["training GFLOPs / image"] == ["2.500"] * 3 + ["–"]       # 2.5e9 FLOPs
    assert cells["training PFLOPs"] == ["0.1200"] * 3 + ["–"]              # 1.2e14 FLOPs
    assert cells["best epoch"] == ["2", "2", "2", "–"]
    bars = gap_vs_surrogate(rows, "t").data[-1]
    assert list(bars.y) == [2.5, 2.5, 2.5, None] and list(bars.customdata) == [3, 3, 3, None]


def test_autoattack_label():
    assert autoattack_label({"autoattack": False, "autoattack_version": "fast"}) == "off"
    assert autoattack_label({"autoattack": True, "autoattack_version": "standard", "autoattack_subset": 0}) == "standard"
    assert autoattack_label({"autoattack": True}) == "standard"  # results written before the field existed


def test_lasso_attack_table_and_toggle():
    results = {"n": [4], "lambda": [0.0, 0.001], "config": {"eps": 0.5},
               "standard": [[[1.0, 0.9], [1.0, 1.0]]], "adversarial": [[[0.6, 0.5], [0.7, 0.7]]],
               "autoattack": [[[0.5, 0.5], [0.7, 0.6]]], "combined": [[[0.5, 0.4], [0.6, 0.6]]]}
    rows = [dict(n=4, lam=0.0, standard=0.9, pgd=0.5, autoattack=0.5, combined=0.4, autoattack_tighter=1, equal=1,
                 pgd_tighter=0)]
    cells = _cells(attack_table(rows, 0.5))
    assert cells["PGD (%)"] == ["50.0"] and cells["AutoAttack (%)"] == ["50.0"] and cells["both attacks (%)"] == ["40.0"]
    assert cells["reps: AutoAttack tighter / equal / PGD tighter"] == ["1 / 1 / 0"]
    boxes = lasso_boxplot(results, "autoattack")
    assert list(boxes.data[1].y) == [0.7, 0.6] and "AutoAttack" in boxes.layout.title.text
    assert LassoView(results).ui.children[0].children[0].options == ("adversarial", "autoattack", "standard")
    off = {**results, "autoattack": None}
    assert LassoView(off).ui.children[0].children[0].options == ("adversarial", "standard")
    with pytest.raises(ValueError, match="not measured"):
        lasso_boxplot(off, "autoattack")


def _study(eps=(0.0, 0.5)):
    report = {"confidence": torch.tensor([0.9, 0.6]), "logit_margin": torch.tensor([1.0, -0.5]),
              "margin": torch.tensor([0.3, 0.0]), "standard_accuracy": 0.5,
              "lipschitz": {"local": torch.tensor([2.0, 1.0]), "uniformity": torch.tensor([0.5, 0.4])}}
    k = len(eps)
    return {"eps": list(eps), "eps_max": 1.0, "reports": [report] * k, "adversarial_accuracy": [[0.5] * k] * k,
            "autoattack_accuracy": [[0.5] + [0.0] * (k - 1)] * k, "combined_accuracy": [[0.5] + [0.0] * (k - 1)] * k}


def test_confidence_accuracy_table_and_single_net_figure():
    from advexplore.experiments.confidence_and_margins import summary_rows

    study = _study()
    cells = _cells(accuracy_table(summary_rows(study), study["eps"]))
    assert cells["attack ε"] == ["0", "0.5", "0", "0.5"]
    assert cells["PGD (%)"] == ["50.0"] * 4 and cells["AutoAttack (%)"] == ["50.0", "0.0", "50.0", "0.0"]
    off = {**study, "autoattack_accuracy": [[None, None]] * 2, "combined_accuracy": [[None, None]] * 2}
    assert _cells(accuracy_table(summary_rows(off), off["eps"]))["AutoAttack (%)"] == ["–"] * 4
    alone = single_net_figure(_study((0.5,)))
    assert len(alone.data) == 4 and "adversarial training, ε = 0.5" in alone.layout.title.text


def test_width_cost_table_and_ratio():
    sweep = {"eps_values": [0.0, 0.2], "widths": [4, 16], "flops_per_step": {0.0: [10, 40], 0.2: [70, 280]},
             "flops": {0.0: [1000, 4000], 0.2: [7000, 28000]}, "seconds": {0.0: [0.5, 0.6], 0.2: [2.0, 2.5]}}
    cells = _cells(cost_table(sweep))
    assert cells["FLOPs per run"] == ["1e+03", "4e+03", "7e+03", "2.8e+04"]
    assert cells["wall time (s)"] == ["0.50", "0.60", "2.00", "2.50"]
    assert flops_ratio(sweep) == {0.2: [7.0, 7.0]}
    with pytest.raises(ValueError, match="needs ε = 0"):
        flops_ratio({**sweep, "eps_values": [0.2], "flops": {0.2: [1]}})


def test_new_parameters_and_arguments_are_refused_by_name(tmp_path):
    annotations = {"autoattack": str, "wrn_depth": int}
    with pytest.raises(ParameterError, match="'autoattack' of 09_lasso_mnist must be one of 'off'"):
        check_parameters({"__annotations__": annotations, "autoattack": "on"}, "09_lasso_mnist")
    with pytest.raises(ParameterError, match="'wrn_depth'.*6n \\+ 4"):
        check_parameters({"__annotations__": annotations, "autoattack": "fast", "wrn_depth": 11},
                         "10_confidence_and_margins")
    check_parameters({"__annotations__": annotations, "autoattack": "standard", "wrn_depth": 28},
                     "10_confidence_and_margins")
    with pytest.raises(ValueError, match="eps_grid must give each of the 2 checkpoint"):
        checkpoint_study(["a.pt", "b.pt"], str(tmp_path), ConfidenceConfig(eps_grid=(0.5,)))
