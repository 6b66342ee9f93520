"""Models of issue 8: eq. 6 written out by hand, initialisation scale by Monte Carlo,
Lipschitz bounds against brute-force difference quotients."""
import math

import pytest
import torch

from advexplore.models import MLP, TwoLayerNet, balanced_output_weights, linear_model
from advexplore.models.activations import ACTIVATIONS


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_two_layer_matches_eq6_loop(activation):
    net = TwoLayerNet(3, 7, activation=activation, a="random", generator=gen())
    x = torch.randn(5, 3, generator=gen(1))
    phi = ACTIVATIONS[activation][0]
    by_hand = torch.stack([sum(net.a[j] * phi(x[i] @ net.theta[:, j]) for j in range(7)) / math.sqrt(7)
                           for i in range(5)])
    assert net(x).shape == (5,)
    torch.testing.assert_close(net(x), by_hand)


def test_activation_formulas():
    z = torch.tensor([-2.0, 0.0, 3.0])
    torch.testing.assert_close(ACTIVATIONS["softplus"][0](z), torch.log1p(torch.exp(z)) - math.log(2))
    torch.testing.assert_close(ACTIVATIONS["smooth_relu"][0](z), (z + torch.sqrt(z * z + 0.01) - 0.1) / 2)
    for name in ("softplus", "tanh", "smooth_relu"):  # Thm 3: φ(0) = 0, φ'(0) ≠ 0
        phi = ACTIVATIONS[name][0]
        assert abs(phi(torch.tensor(0.0)).item()) < 1e-7
        slope = (phi(torch.tensor(1e-3)) - phi(torch.tensor(-1e-3))) / 2e-3
        assert slope.item() > 0.4


def test_balanced_output_weights_have_equal_positive_and_negative_norms():
    for h in (1, 2, 7, 64):
        a = balanced_output_weights(h)
        assert a.shape == (h,)
        if h > 1:
            assert torch.isclose(a[a > 0].norm(), a[a < 0].norm())
    assert set(balanced_output_weights(8).tolist()) == {1.0, -1.0}


def test_vanishing_initialisation_variance():
    d, h, delta = 20, 400, 0.5
    theta = TwoLayerNet(d, h, delta=delta, generator=gen(3)).theta.detach()
    target = 1.0 / (d * h ** (1 + delta))
    # sample variance of N = d·h normals: relative standard error √(2/N)
    assert abs(theta.var().item() / target - 1) < 5 * math.sqrt(2 / theta.numel())
    assert abs(theta.mean().item()) < 5 * math.sqrt(target / theta.numel())


def _max_difference_quotient(model, d, norm, pairs=4000):
    x = torch.randn(pairs, d, generator=gen(5))
    z = 0.3 * torch.randn(pairs, d, generator=gen(6))
    with torch.no_grad():
        diff = (model(x + z) - model(x)).abs()
    length = z.norm(dim=1) if norm == "l2" else z.abs().amax(dim=1)
    return (diff / length).max().item()


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_lipschitz_bounds_dominate_difference_quotients(norm, activation):
    torch.manual_seed(0)
    for model in (TwoLayerNet(3, 32, activation=activation, delta=0.0, a="random", generator=gen()),
                  MLP(3, 32, 3, activation=activation)):
        assert model.lipschitz_bound(norm).item() >= _max_difference_quotient(model, 3, norm)


def test_linear_model_lipschitz_bound_is_the_dual_norm():
    model = linear_model(4)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0]]))
    assert model.lipschitz_bound("l2").item() == pytest.approx(math.sqrt(5.25))
    assert model.lipschitz_bound("linf").item() == pytest.approx(3.5)


def test_mlp_shapes_and_depth_zero_is_linear():
    x = torch.randn(6, 4)
    assert MLP(4, 16, 2)(x).shape == (6,)
    assert MLP(4, 16, 2, out_dim=3)(x).shape == (6, 3)
    assert len(MLP(4, 16, 0).layers) == 1 and linear_model(4)(x).abs().max() == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="sigmoid"), "activation"), (dict(a="ones"), "a must"), (dict(h=0), "h"),
    (dict(delta=-1.0), "delta")])
def test_two_layer_rejects_bad_arguments(kwargs, match):
    args = dict(d=2, h=4) | kwargs
    with pytest.raises(ValueError, match=match):
        TwoLayerNet(**args)


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        MLP(2, 4, -1)
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 4, 1, activation="elu")
