"""Notebooks 09 (Fig. 4, LASSO vs n) and 10 (paper 003, confidence and margins) executed headless
with tiny parameters on the bundled digits (and 09 on a tiny MNIST directory written here),
asserting on the numbers they saved."""
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
    assert std.shape == (2, 2, 2) and (adv <= std).all()
    assert std[-1].min() >= 0.95  # 0 vs 1 from 20 images: nearly perfect on clean test images
    assert adv.min() < 1.0  # the scaled ε attack does bite
    sparsity = np.array(r["sparsity"])
    assert (sparsity[:, 0] == 0).all() and (sparsity[:, 1] > 0).all()


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
    assert (np.array(r["adversarial"]) <= np.array(r["standard"])).all()


@pytest.mark.slow
def test_10_confidence_and_margins(run_notebook):
    r = run_notebook("10_confidence_and_margins", eps_grid=[0.0, 0.5], epochs=10, hidden=64, n_test=100,
                     bisections=3, lipschitz_samples=16, eval_steps=10)
    standard, robust = r["rows"]
    assert r["dataset"] == "digits" and r["eps"] == [0.0, 0.5]
    assert standard["standard_accuracy"] > 0.7
    # AT at ε = 0.5 is more robust at ε = 0.5, less confident, with smaller logit margins
    assert robust["adversarial_accuracy"][1] > standard["adversarial_accuracy"][1]
    assert robust["mean_confidence"] < standard["mean_confidence"]
    assert robust["median_logit_margin"] < standard["median_logit_margin"]
    conf = {k: np.array(v) for k, v in r["confidence"].items()}
    assert conf["0.0"].shape == (100,) and ((conf["0.5"] > 0.1 - 1e-6) & (conf["0.5"] <= 1)).all()
    for row in r["rows"]:
        assert all(a <= row["standard_accuracy"] + 1e-9 for a in row["adversarial_accuracy"])


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
