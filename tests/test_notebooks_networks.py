"""Notebooks 06–08 run headless (papermill) with small parameters; the asserts check the
science in the numbers they saved. They train with issue 4's advexplore.training."""
import pytest

pytestmark = pytest.mark.notebook


@pytest.mark.slow
def test_explorer_notebook(run_notebook):
    r = run_notebook("06_adversarial_vs_regularized", n=100, width=32, depth=2, train_steps=60)
    assert r["linear_mismatch"] < 1e-3 * max(r["network_curves"]["pgd"])
    gap = r["input_gradient_gap"]
    assert gap[0] < 1e-6 and gap[-1] > gap[1] > 0
    curves = r["network_curves"]
    assert all(w >= p * (1 - 1e-5) for w, p in zip(curves["weight_norm"], curves["pgd"]))  # upper ≥ lower
    assert r["pgd_excess_over_exhaustive"] < 0.01 * max(curves["exhaustive"])
    lin, net = r["linear_runs"], r["network_runs"]
    assert r["linear_theta_distance"] < 1e-3
    assert lin["regularized"]["passes"] <= 1.5 * lin["standard"]["passes"] < lin["adversarial"]["passes"]
    assert net["regularized"]["passes"] < net["adversarial"]["passes"]
    assert r["network_function_distance"] > 10 * r["linear_function_distance"]


@pytest.mark.slow
def test_lazy_two_layer_notebook(run_notebook):
    r = run_notebook("07_two_layer_lazy", n_values=[100, 1600], h_values=[8, 256], n_test=10000,
                     hd_d=200, hd_reps=2)
    for table in r["excess"].values():
        assert abs(table[-1][-1]) < 0.05 and abs(table[-1][-1]) < abs(table[0][0])
    assert r["hd_final_train_over_v2"] < 0.01
    assert 0.8 < r["hd_final_test_over_v2"] < 1.1
    assert r["hd_v2"] == 11.0


@pytest.mark.slow
def test_width_notebook(run_notebook):
    r = run_notebook("08_width_and_robust_training", widths=[4, 16, 64], eps_values=[0.0, 0.2], steps=600)
    standard, robust = r["loss"]["0.0"], r["loss"]["0.2"]
    assert all(rb > s for rb, s in zip(robust, standard))
    assert robust[-1] < robust[0]
    assert r["interpolation_width_standard"] is not None
    assert r["interpolation_width_robust"] is None or r["interpolation_width_robust"] > r["interpolation_width_standard"]
