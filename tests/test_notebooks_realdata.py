"""Notebooks 09 (Fig. 4, LASSO vs n) and 10 (paper 003, confidence and margins) executed headless
with tiny parameters on the bundled digits (and 09 on a tiny MNIST directory written here). What
they saved is recomputed here from the saved per-run and per-sample numbers, and checked against
relations that hold independently of the code (accuracies are counts over n_test, a softmax's
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
                     n_grid=[4], attack_steps=2, eval_steps=2)
    assert r["dataset"] == "mnist" and r["eps"] == 3.0
    assert r["config"]["n_test"] == 40 and np.array(r["standard"]).shape == (1, 2, 1)
    assert np.allclose(np.array(r["standard"]) * 40, np.round(np.array(r["standard"]) * 40), atol=1e-6)


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
