"""Notebook 06's gap machinery, checked against computations written out here: the data targets
by their formulas, the gap figure's traces from the curves by arithmetic, the bracket over ε
against one call per ε of the exact and certified methods, and the FLOPs of a training comparison
against the whole run counted under count_flops (the library counts one step and multiplies)."""
import numpy as np
import pytest
import torch

from advexplore.cost import count_flops
from advexplore.data import gaussian_data
from advexplore.exact import exact_max_loss, lp_max_loss
from advexplore.bounds import certified_max_loss
from advexplore.experiments.adversarial_vs_regularized import (ExplorerConfig, bracket_curves, compare_training,
                                                               explorer_model, fitted_curves)
from advexplore.experiments.adversarial_vs_regularized_data import TARGETS, check_target, explorer_data, target_function
from advexplore.models import MLP
from advexplore.plots.adversarial_gap import adversarial_gap_figure, bracket_figure, bracket_table, gap_table
from advexplore.regularized import regularized_train


def test_targets_by_their_formulas_and_the_same_noise():
    x_lin, y_lin = explorer_data(50, 3, seed=4, sigma2=0.25)
    x_ref, y_ref = gaussian_data(50, torch.ones(3), 0.25, generator=torch.Generator().manual_seed(4), dtype=torch.float32)
    assert torch.equal(x_lin, x_ref) and torch.equal(y_lin, y_ref)   # linear: paper 002's eq. 4, as before
    xs, noise = x_lin.numpy().astype(float), (y_lin - x_lin.sum(dim=1)).numpy()
    formulas = {"abs": np.abs(xs[:, 0]), "sin": np.sin(3 * xs[:, 0]), "product": xs[:, 0] * xs[:, 1],
                "ring": (np.sqrt((xs ** 2).sum(axis=1)) < 1).astype(float)}
    assert set(formulas) | {"linear"} == set(TARGETS)
    for target, g in formulas.items():
        x, y = explorer_data(50, 3, seed=4, sigma2=0.25, target=target)
        assert torch.equal(x, x_lin)
        np.testing.assert_allclose(y.numpy(), g + noise, atol=1e-5)    # same x, same noise e, g(x) for θ0ᵀx
        np.testing.assert_allclose(target_function(x, target).numpy(), g, atol=1e-6)
    assert 0.1 < formulas["ring"].mean() < 0.4                         # P(‖x‖ < 1) in R³ ≈ 0.2


def test_target_errors_name_the_argument():
    with pytest.raises(ValueError, match="target must be one of"):
        explorer_data(10, 2, target="spiral")
    with pytest.raises(ValueError, match=r"'product' needs input dimension d ≥ 2, got d=1"):
        explorer_data(10, 1, target="product")
    with pytest.raises(TypeError, match="target must be a string"):
        check_target(3)
    with pytest.raises(ValueError, match="sigma2"):
        explorer_data(10, 2, sigma2=-1.0)
    from advexplore.app.params import ParameterError, check_range
    assert check_range("06_adversarial_vs_regularized.ipynb", "target", "ring") == "ring"
    with pytest.raises(ParameterError, match="'target' .* one of 'linear', 'abs', 'sin', 'ring', 'product'"):
        check_range("06_adversarial_vs_regularized.ipynb", "target", "spiral")


@pytest.fixture(scope="module")
def small():
    config = ExplorerConfig(fit_steps=40, eps_max=1.0, n_eps=5)
    grid = torch.linspace(0.0, 1.0, 5)
    return config, grid, fitted_curves(16, 1, "relu", 40, 2, 0, "ring", config, grid)


def test_gap_curves_and_figure_by_arithmetic(small):
    config, grid, entry = small
    c = entry["curves"]
    # the best attack is a per-sample max, so its mean is at least each attack's mean (every sample searched)
    assert (c["adversarial"] >= c["pgd"] - 1e-6).all() and (c["adversarial"] >= c["exhaustive"] - 1e-6).all()
    fig = adversarial_gap_figure(grid, c, eps_now=0.5)
    traces = {t.meta: np.array(t.y, dtype=float) for t in fig.data}
    for omega in ("weight_norm", "input_gradient"):
        excess = (c[omega] - c["adversarial"]).numpy()
        np.testing.assert_allclose(traces[f"absolute:{omega}"], excess, rtol=1e-6, atol=1e-9)
        relative = np.where(c["adversarial"].numpy() > 0, excess / c["adversarial"].numpy(), 0.0)
        np.testing.assert_allclose(traces[f"relative:{omega}"], 100 * relative, rtol=1e-5, atol=1e-6)
    low, high = fig.layout.yaxis2.range                                 # fitted to the input-gradient curve and 0
    assert low <= min(0, traces["relative:input_gradient"].min()) and high >= traces["relative:input_gradient"].max()
    note = next(a for a in fig.layout.annotations if a.name == "off scale relative")
    assert note.visible == (traces["relative:weight_norm"].max() > high)
    assert all(s.x0 == s.x1 == 0.5 for s in fig.layout.shapes)


def test_linear_model_gap_is_zero_in_the_figure():
    config, grid = ExplorerConfig(fit_steps=30, eps_max=1.0, n_eps=4), torch.linspace(0.0, 1.0, 4)
    c = fitted_curves(8, 0, "relu", 60, 2, 1, "product", config, grid)["curves"]
    for omega in ("weight_norm", "input_gradient"):  # (|r| + ε‖θ‖)² is the inner maximum on any data
        assert c[f"{omega}_relative_gap"].abs().max() < 1e-4
    fig = adversarial_gap_figure(grid, c)
    assert fig.layout.yaxis2.range[1] >= 2.0 and not any(a.visible for a in fig.layout.annotations if a.name)


def test_bracket_curves_match_one_call_per_eps():
    torch.manual_seed(0)
    net = MLP(2, 6, 1).double()
    x, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    b = bracket_curves(net, x, y, [0.3, 0.8], "l2", n_samples=3)
    assert b["eps"] == [0.3, 0.8] and b["n"] == 3 and not b["skipped"]
    for k, eps in enumerate((0.3, 0.8)):
        exact = exact_max_loss(net, x[:3], y[:3], eps, "l2").mean().item()
        assert b["risk"]["exact"][k] == pytest.approx(exact, rel=1e-9)
        assert b["risk"]["lp"][k] == pytest.approx(lp_max_loss(net, x[:3], y[:3], eps, "l2").mean().item(), rel=1e-9)
        for method in ("crown", "ibp", "weight_norm"):
            value = certified_max_loss(net, x[:3], y[:3], eps, "l2", method=method).mean().item()
            assert b["risk"][method][k] == pytest.approx(value, rel=1e-9)
            assert b["ratio"][method][k] == pytest.approx(value / exact, rel=1e-9)
    table = bracket_table(b)
    assert "ratio to exact" in table and len(table.splitlines()) == 7
    assert len(bracket_figure(b).data) == 12                            # 6 estimates + 6 ratios
    smooth = bracket_curves(MLP(2, 4, 1, activation="tanh").double(), x, y, [0.3], n_samples=2)
    assert set(smooth["risk"]) == {"pgd", "weight_norm"} and smooth["ratio"] == {} and "exact" in smooth["skipped"]
    fig = bracket_figure(smooth)
    assert any("exact value not computable" in (a.text or "") for a in fig.layout.annotations)
    assert "skipped" in bracket_table(smooth)
    with pytest.raises(ValueError, match="eps_values"):
        bracket_curves(net, x, y, [], "l2")


def test_training_flops_are_the_whole_runs_count():
    x, y = explorer_data(30, 2, seed=2, sigma2=0.01, target="sin")
    make = lambda: explorer_model(2, 8, 1, "relu", seed=2)  # noqa: E731
    runs = compare_training(make, x, y, x, y, eps=0.3, omega="input_gradient", steps=4, attack_steps=3)
    model = make()
    with count_flops() as whole:                                        # the regularised run, counted in full
        regularized_train(model, x, y, eps=0.3, omega="input_gradient", lr=0.05, steps=4, optimizer="sgd")
    assert runs["regularized"]["cost"]["flops"] == whole.flops == 4 * runs["regularized"]["cost"]["flops_per_step"]
    forward = 2 * 30 * (2 * 8 + 8 * 1)                                  # 2n Σ d_in·d_out
    assert runs["standard"]["cost"]["flops"] == 4 * (3 * forward - 2 * 30 * 2 * 8)
    assert runs["adversarial"]["cost"]["flops"] == 4 * ((3 + 1 + 3 + 1) * forward + 2 * forward - 2 * 30 * 2 * 8)
    # passes say the regularised step costs 3/2 of a standard step; the double backward makes it more
    assert runs["regularized"]["cost"]["passes"] == 1.5 * runs["standard"]["cost"]["passes"]
    assert runs["regularized"]["cost"]["flops"] > 2 * runs["standard"]["cost"]["flops"]


def test_explorer_switches_target_and_refuses_a_bad_pair():
    from advexplore.widgets.adversarial_vs_regularized import build_explorer

    explorer = build_explorer(eps=0.5, width=8, depth=1, n=40, d=2, target="ring",
                              config=ExplorerConfig(fit_steps=10, eps_max=1.0, n_eps=3))
    ring = [float(v) for v in next(t for t in explorer.gap.data if t.meta == "relative:input_gradient").y]
    explorer.update(target="product")
    product = explorer.curves()
    drawn = [float(v) for v in next(t for t in explorer.gap.data if t.meta == "relative:input_gradient").y]
    assert drawn == pytest.approx([100 * v for v in product["input_gradient_relative_gap"]]) and drawn != ring
    x, y = explorer.fitted()[1:]
    np.testing.assert_allclose(y.numpy(), explorer_data(40, 2, 0, 0.01, "product")[1].numpy())
    with pytest.raises(ValueError, match="needs input dimension d ≥ 2"):
        explorer.update(d=1)
    assert explorer.values["d"] == 2                                    # refused before anything changed
    assert gap_table({"ring": {"input_gradient": [0.5, -0.25], "weight_norm": [3.0, 12.0]}}, [0.5, 1.0]).splitlines()[1] \
        .split()[:4] == ["ring", "+50", "-25", "+1,200"]
