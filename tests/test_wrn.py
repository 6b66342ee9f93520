"""WideResNet shapes/sizes/freezing and the ReLU-forward / Softplus-backward activation,
checked against finite differences of softplus and against torch.relu."""
import pytest
import torch
import torch.nn.functional as F

from advexplore.models import ReLUSoftplusGrad, WideResNet, relu_softplus_grad


def test_relu_softplus_forward_is_relu_and_backward_is_softplus_derivative():
    x = torch.linspace(-2, 2, 41, dtype=torch.float64).requires_grad_(True)
    beta = 10.0
    y = relu_softplus_grad(x, beta)
    assert torch.equal(y.detach(), torch.relu(x.detach()))
    (g,) = torch.autograd.grad(y.sum(), x)
    # central finite differences of softplus_β, independent of the custom backward
    h = 1e-6
    xd = x.detach()
    def softplus(z):  # log(1 + e^{βz})/β written out (F.softplus switches to z above βz = 20)
        return torch.log1p(torch.exp(beta * z)) / beta
    fd = (softplus(xd + h) - softplus(xd - h)) / (2 * h)
    assert torch.allclose(g, fd, atol=1e-7)
    assert torch.allclose(g, torch.sigmoid(beta * xd))


def test_relu_softplus_chain_rule_and_gradcheck_of_the_smooth_backward():
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64)
    (g,) = torch.autograd.grad((w * ReLUSoftplusGrad(3.0)(x)).sum(), x)
    assert torch.allclose(g, w * torch.sigmoid(3.0 * x.detach()))
    with pytest.raises(ValueError, match="beta"):
        relu_softplus_grad(x, beta=0)


@pytest.mark.parametrize("activation", ["relu", "relu_softplus", "softplus"])
def test_wrn_shapes(activation):
    model = WideResNet(10, 2, num_classes=7, activation=activation)
    assert model(torch.rand(3, 3, 32, 32)).shape == (3, 7)


def test_wrn_34_10_and_34_1_sizes():
    def count(m):
        return sum(p.numel() for p in m.parameters())
    # WRN-34-10 has 46.16 M parameters (the figure quoted by TRADES / Rice et al.)
    assert abs(count(WideResNet(34, 10)) / 1e6 - 46.16) < 0.01
    assert 0.4e6 < count(WideResNet(34, 1)) < 0.5e6


def test_wrn_rejects_bad_arguments():
    with pytest.raises(ValueError, match="depth"):
        WideResNet(12, 1)
    with pytest.raises(ValueError, match="widen_factor"):
        WideResNet(10, 0)
    with pytest.raises(ValueError, match="activation"):
        WideResNet(10, 1, activation="gelu")
    with pytest.raises(ValueError, match="frozen"):
        WideResNet(10, 1, frozen=("block9",))


def test_frozen_parts_do_not_change_in_training():
    torch.manual_seed(0)
    model = WideResNet(10, 1, frozen=("conv1", "block1"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    assert not model.block1[0].bn1.training and model.block2[0].bn1.training
    loss = F.cross_entropy(model(torch.rand(8, 3, 32, 32)), torch.arange(8) % 10)
    loss.backward()
    opt.step()
    after = model.state_dict()
    for k in before:
        same = torch.equal(before[k], after[k])
        if k.startswith(("conv1", "block1")):
            assert same, k                      # weights AND BatchNorm statistics frozen
        elif k.endswith("weight") and "bn" not in k:
            assert not same, k
