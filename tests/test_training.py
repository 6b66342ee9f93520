"""Algorithm 1 (adversarial_train), checked against hand-computed
updates, closed forms (paper 002) and finite differences."""

import numpy as np
import pytest
import torch
from torch import nn

from advexplore import adversarial_risk, gaussian_data, robust_optimum
from advexplore.training import adversarial_train, xi_at


def linear(d, init):
    net = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        net.weight[:] = init
    return net


@pytest.fixture
def data():
    th0 = torch.tensor([1.0, -0.5, 0.25, 0.0], dtype=torch.float64)
    x, y = gaussian_data(64, th0, generator=torch.Generator().manual_seed(3))
    return th0, x, y


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_one_step_equals_hand_computed_update(data, norm):
    th0, x, y = data
    theta = torch.tensor([0.3, 0.2, -0.1, 0.4], dtype=torch.float64)
    eps, lr = 0.4, 0.05
    net = linear(4, theta)
    hist = adversarial_train(net, x, y, eps=eps, lr=lr, steps=1, norm=norm)
    r = x @ theta - y
    # exact attack of a linear model: δ = ε sign(r) θ/‖θ‖₂ (L2) or ε sign(r) sign(θ) (L∞)
    direction = theta / theta.norm() if norm == "l2" else torch.sign(theta)
    x_adv = x + eps * torch.sign(r)[:, None] * direction
    res = x_adv @ theta - y
    expected = theta - lr * (2.0 / len(y)) * (res[:, None] * x_adv).sum(0)
    assert torch.allclose(net.weight[0], expected, atol=1e-12)
    dual = theta.norm() if norm == "l2" else theta.abs().sum()
    assert hist.train_loss[0] == pytest.approx(((r.abs() + eps * dual) ** 2).mean().item(), rel=1e-12)


def test_training_objective_gradient_matches_finite_differences(data):
    """The step uses ∇_θ of (1/n)Σ(θᵀx̃−y)² with x̃ fixed; compare with central differences."""
    th0, x, y = data
    theta = torch.tensor([0.3, 0.2, -0.1, 0.4], dtype=torch.float64)
    lr = 1e-3
    net = linear(4, theta)
    adversarial_train(net, x, y, eps=0.3, xi=0.2, lr=lr, steps=1)
    step_grad = (theta - net.weight[0].detach()) / lr
    from advexplore import surrogate_attack
    x_adv = x + surrogate_attack(linear(4, theta), x, y, 0.3, xi=0.2)

    def objective(t):
        return ((x_adv @ t - y) ** 2).mean()

    h = 1e-6
    fd = torch.stack([(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                      for e in torch.eye(4, dtype=torch.float64)])
    assert torch.allclose(step_grad, fd, atol=1e-6)


def test_f1_surrogate_smooths_training():
    """Fig. 1 setting (d=10, n=1000, θ0=1, σ²=1, ε=3): ξ=0.05 decreases monotonically, ξ=0 does not."""
    th0 = torch.ones(10, dtype=torch.float64)
    x, y = gaussian_data(1000, th0, generator=torch.Generator().manual_seed(0))
    curves = {}
    for xi in (0.0, 0.05):
        net = linear(10, th0)
        curves[xi] = np.array(adversarial_train(net, x, y, eps=3.0, xi=xi, lr=3e-4, steps=600).train_loss)
    assert np.all(np.diff(curves[0.05]) <= 1e-12)
    assert np.sum(np.diff(curves[0.0]) > 1e-6) >= 10  # fluctuates
    _, r_star = robust_optimum(th0, 3.0)
    assert curves[0.05][-1] == pytest.approx(r_star.item(), rel=0.05)


def test_lasso_step_soft_thresholds_and_zeroes_small_weights(data):
    th0, x, y = data
    net = linear(4, torch.zeros(4, dtype=torch.float64))
    adversarial_train(net, x, y, eps=0.0, lr=0.05, steps=400, l1=0.6)
    w = net.weight[0].detach()
    assert (w == 0).any() and (w != 0).any()  # the proximal step gives exact zeros
    # KKT of the LASSO (1/n)‖Xθ−y‖² + λ‖θ‖₁ at the fixed point, computed independently
    grad = (2.0 / len(y)) * x.T @ (x @ w - y)
    active = w != 0
    assert torch.allclose(grad[active], -0.6 * torch.sign(w[active]), atol=1e-6)
    assert torch.all(grad[~active].abs() <= 0.6 + 1e-6)


def test_xi_schedule_and_callback(data):
    th0, x, y = data
    assert xi_at(5, 1.0, {3: 0.1, 6: 0.1}) == pytest.approx(0.1)
    assert xi_at(7, 1.0, {3: 0.1, 6: 0.1}) == pytest.approx(0.01)
    net = linear(4, torch.zeros(4, dtype=torch.float64))
    hist = adversarial_train(net, x, y, eps=0.2, xi=1.0, lr=0.01, steps=8, xi_schedule={3: 0.1},
                             callback=lambda step, m, loss: {"test_risk": adversarial_risk(
                                 m.weight[0].detach(), th0, 0.2).item(), "loss": loss})
    assert hist.xi == [1.0] * 3 + [pytest.approx(0.1)] * 5
    assert len(hist.column("test_risk")) == 8 and hist.column("loss") == hist.train_loss


def test_minibatches_are_seeded(data):
    th0, x, y = data
    ws = []
    for _ in range(2):
        net = linear(4, torch.zeros(4, dtype=torch.float64))
        adversarial_train(net, x, y, eps=0.1, lr=0.05, steps=20, batch_size=8,
                          generator=torch.Generator().manual_seed(5))
        ws.append(net.weight.detach().clone())
    assert torch.equal(ws[0], ws[1])


def test_cross_entropy_training_runs_with_clip():
    torch.manual_seed(0)
    x = torch.rand(40, 6)
    labels = (x[:, 0] > 0.5).long()
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    ce = lambda out, t: nn.functional.cross_entropy(out, t, reduction="none")
    hist = adversarial_train(net, x, labels, eps=0.05, norm="linf", lr=0.5, steps=60, loss=ce, clip=(0, 1))
    assert hist.train_loss[-1] < hist.train_loss[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(eps=-1.0, lr=0.1, steps=1), "eps"),
    (dict(eps=0.1, xi=-1.0, lr=0.1, steps=1), "xi"),
    (dict(eps=0.1, lr=0.0, steps=1), "lr"),
    (dict(eps=0.1, lr=0.1, steps=0), "steps"),
    (dict(eps=0.1, lr=0.1, steps=1, l1=-0.1), "l1"),
    (dict(eps=0.1, lr=0.1, steps=1, norm="l3"), "norm"),
    (dict(eps=0.1, lr=0.1, steps=1, batch_size=1000), "batch_size"),
])
def test_bad_arguments_name_the_argument(data, kwargs, match):
    th0, x, y = data
    with pytest.raises((ValueError, TypeError), match=match):
        adversarial_train(linear(4, torch.zeros(4, dtype=torch.float64)), x, y, **kwargs)


# ---- one training API: adversarial_train, regularized_train and the explorer's fit_standard ----
def _trainers():
    from advexplore.experiments.adversarial_vs_regularized import fit_standard
    from advexplore.regularized import regularized_train
    return {
        "adversarial_train": lambda m, x, y, lr, steps, callback=None: adversarial_train(
            m, x, y, eps=0.3, lr=lr, steps=steps, callback=callback),
        "regularized_train": lambda m, x, y, lr, steps, callback=None: regularized_train(
            m, x, y, eps=0.3, omega="weight_norm", lr=lr, steps=steps, optimizer="sgd", callback=callback),
        "fit_standard": lambda m, x, y, lr, steps, callback=None: fit_standard(m, x, y, steps, lr, callback),
    }


def test_the_three_trainers_report_the_same_history(data):
    """Same TrainHistory fields; train_loss[0] is each objective at the initial θ, computed by hand
    ((|r| + ε‖θ‖₂)² for the exact attack and for R_reg with Ω = ‖θ‖₂, r² for the standard fit);
    callback(step, model, loss) sees the model after the step and loss = train_loss[step]."""
    from advexplore.training import TrainHistory
    th0, x, y = data
    theta = torch.tensor([0.3, 0.2, -0.1, 0.4], dtype=torch.float64)
    r = x @ theta - y
    first = {"adversarial_train": ((r.abs() + 0.3 * theta.norm()) ** 2).mean().item(),
             "regularized_train": ((r.abs() + 0.3 * theta.norm()) ** 2).mean().item(),
             "fit_standard": (r ** 2).mean().item()}
    for name, train in _trainers().items():
        seen = []

        def callback(step, model, loss):
            seen.append((step, loss))
            return {"moved": (model.weight[0] - theta).abs().max().item()}
        hist = train(linear(4, theta), x, y, lr=0.01, steps=5, callback=callback)
        assert type(hist) is TrainHistory, name
        assert len(hist.train_loss) == len(hist.xi) == len(hist.records) == 5, name
        assert hist.train_loss[0] == pytest.approx(first[name], rel=1e-12), name
        assert seen == list(enumerate(hist.train_loss)), name
        assert all(moved > 0 for moved in hist.column("moved")), name  # called after the step
        assert hist.xi == [0.0] * 5, name
        assert set(hist.cost) == {"forward", "backward", "passes", "samples_forward", "samples_backward",
                                  "seconds"}, name
        assert hist.cost["backward"] >= 5 and hist.cost["seconds"] > 0, name
        assert set(hist.as_dict()) == {"train_loss", "xi", "cost", "moved"}, name
    with pytest.raises(TypeError):
        TrainHistory()["loss"]  # no dict look-alike: read the fields


def test_fit_standard_is_plain_full_batch_adam(data):
    """The explorer's fit, now regularized_train at ε = 0, against torch's Adam on the mean squared loss."""
    from advexplore.experiments.adversarial_vs_regularized import fit_standard
    th0, x, y = data
    net, reference = linear(4, torch.zeros(4, dtype=torch.float64)), linear(4, torch.zeros(4, dtype=torch.float64))
    hist = fit_standard(net, x, y, steps=7, lr=0.05)
    opt = torch.optim.Adam(reference.parameters(), lr=0.05)
    losses = []
    for _ in range(7):
        opt.zero_grad()
        loss = ((reference(x)[:, 0] - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert torch.equal(net.weight, reference.weight) and hist.train_loss == losses


@pytest.mark.parametrize("bad, name", [
    (dict(lr=0.0), "lr"), (dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"), (dict(lr=float("inf")), "lr"),
    (dict(lr="fast"), "lr"), (dict(lr=[0.1, 0.2]), "lr"), (dict(steps=0), "steps"), (dict(steps=2.5), "steps"),
    (dict(callback=3), "callback"), (dict(y_rows=10), "x and y"),
])
def test_bad_arguments_are_rejected_identically_by_the_three_trainers(data, bad, name):
    th0, x, y = data
    args = dict(lr=0.1, steps=3, callback=None)
    args.update(bad)
    rows = args.pop("y_rows", len(y))
    errors = {}
    for trainer, train in _trainers().items():
        with pytest.raises((ValueError, TypeError), match=name) as info:
            train(linear(4, torch.zeros(4, dtype=torch.float64)), x, y[:rows], **args)
        errors[trainer] = (info.type, str(info.value))
    assert len(set(errors.values())) == 1, errors
