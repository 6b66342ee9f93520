"""The attack toolkit (advexplore.attacks): each single piece against an independent computation —
the dual norm against a brute-force maximum over the unit ball, the input gradient against finite
differences, the surrogate factor against paper 002 §2.1's formula by hand, the loss under an
attack against an explicit loop — and every attack against the one contract `Attack`."""
import inspect
import itertools
import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import advexplore
from advexplore.attacks import (NORMS, Attack, attacked_loss, dual_norm, input_gradient, loss_and_input_gradient,
                                surrogate_attack, surrogate_factor)
from advexplore.bounds import exhaustive_attack_2d
from advexplore.gpu import grad_norm_loss, train_pgd
from advexplore.models import MLP
from advexplore.pgd import pgd_attack

F64 = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


def unit_sphere(m, d, seed):
    """m points uniform on the Euclidean unit sphere of R^d (normalised Gaussians)."""
    u = torch.randn(m, d, generator=gen(seed), dtype=F64)
    return u / u.square().sum(dim=1, keepdim=True).sqrt()


def cube_vertices(d):
    """The 2^d vertices of [−1, 1]^d, where a linear function attains its max over the L∞ ball."""
    return torch.tensor(list(itertools.product((-1.0, 1.0), repeat=d)), dtype=F64)


def test_norms_are_public():
    assert NORMS == advexplore.NORMS == ("l2", "linf") and "NORMS" in advexplore.__all__


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_dual_norm_is_the_max_of_the_inner_product_over_the_unit_ball(norm):
    theta = torch.tensor([[0.5, -1.5, 2.0], [0.0, 0.3, -0.7], [0.0, 0.0, 0.0]], dtype=F64)  # (3, 3)
    value = dual_norm(theta, norm)
    assert value.shape == (3,)
    if norm == "linf":
        torch.testing.assert_close(value, (theta @ cube_vertices(3).T).amax(dim=1), rtol=0, atol=1e-15)
    else:  # sampled sphere: never above the dual norm, and within 0.1 % of it
        best = (theta @ unit_sphere(200_000, 3, 0).T).amax(dim=1)
        assert (best <= value * (1 + 1e-12)).all() and (best >= value * (1 - 1e-3)).all()


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_dual_norm_per_sample_over_images(norm):
    """start_dim=1 on (n, C, H, W): one dual norm per image, each a brute-force max over the ball."""
    z = torch.randn(4, 1, 2, 2, generator=gen(1), dtype=F64)
    value = dual_norm(z, norm, start_dim=1)
    flat = z.reshape(4, 4)
    if norm == "linf":
        torch.testing.assert_close(value, (flat @ cube_vertices(4).T).amax(dim=1), rtol=0, atol=1e-15)
    else:
        best = (flat @ unit_sphere(200_000, 4, 2).T).amax(dim=1)
        assert (best <= value * (1 + 1e-12)).all() and (best >= value * (1 - 1e-2)).all()
    kept = dual_norm(z, norm, start_dim=1, keepdim=True)
    assert kept.shape == (4, 1, 1, 1) and torch.equal(kept.flatten(), value)
    with pytest.raises(ValueError, match="norm must be one of"):
        dual_norm(z, "l1")


def test_input_gradient_matches_central_differences_on_images():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 2), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 2 * 2, 4)).double()
    x = torch.randn(5, 2, 3, 3, generator=gen(3), dtype=F64)
    y = torch.randint(0, 4, (5,), generator=gen(4))
    got = loss_and_input_gradient(net, x, y, ce)
    h = 1e-6
    fd = torch.zeros_like(x)
    with torch.no_grad():
        for idx in itertools.product(*map(range, x.shape[1:])):  # one coordinate of every sample at once
            e = torch.zeros_like(x)
            e[(slice(None), *idx)] = h
            fd[(slice(None), *idx)] = (ce(net(x + e), y) - ce(net(x - e), y)) / (2 * h)
        torch.testing.assert_close(got.grad, fd, rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(got.loss, ce(net(x), y), rtol=0, atol=0)
        torch.testing.assert_close(got.output, net(x), rtol=0, atol=0)
    torch.testing.assert_close(input_gradient(net, x, y, ce), got.grad, rtol=0, atol=0)
    assert not got.loss.requires_grad and not got.grad.requires_grad


def test_input_gradient_with_create_graph_is_differentiable_in_the_weights():
    """d/dW of mean_i ‖∇ₓl_i‖₁ (double backprop) against central differences in W."""
    torch.manual_seed(1)
    net = MLP(3, 6, 1, activation="tanh").double()
    x, y = torch.randn(8, 3, generator=gen(5), dtype=F64), torch.randn(8, generator=gen(6), dtype=F64)
    weight = net.layers[0].weight

    def objective():
        return dual_norm(input_gradient(net, x, y), "linf", start_dim=1).mean()

    clean = loss_and_input_gradient(net, x, y, create_graph=True)
    (grad_w,) = torch.autograd.grad(dual_norm(clean.grad, "linf", start_dim=1).mean(), weight)
    h = 1e-6
    for i, j in ((0, 0), (2, 1), (5, 2)):
        with torch.no_grad():
            weight[i, j] += h
            up = objective()
            weight[i, j] -= 2 * h
            down = objective()
            weight[i, j] += h
        assert grad_w[i, j].item() == pytest.approx(((up - down) / (2 * h)).item(), rel=1e-5, abs=1e-8)


def test_surrogate_factor_is_paper_002_formula_by_hand():
    g = torch.tensor([[3.0, 4.0], [0.0, 0.0], [-6.0, 8.0]], dtype=F64)  # ‖g_i‖₂ = 5, 0, 10
    torch.testing.assert_close(surrogate_factor(g, 12.0, "l2"),
                               torch.tensor([[5 / 13], [0.0], [10 / math.sqrt(244)]], dtype=F64))
    torch.testing.assert_close(surrogate_factor(g, 1.0, "linf"),  # |g_i|/(|g_i| + ξ)
                               torch.tensor([[3 / 4, 4 / 5], [0.0, 0.0], [6 / 7, 8 / 9]], dtype=F64))
    assert torch.equal(surrogate_factor(g, 0.0, "l2"), torch.ones(3, 1, dtype=F64))
    assert torch.equal(surrogate_factor(g, 0.0, "linf"), torch.ones(3, 2, dtype=F64))
    images = torch.tensor([[[[1.0, 2.0], [2.0, 4.0]]], [[[0.0, 0.0], [0.0, 3.0]]]], dtype=F64)  # norms 5, 3
    torch.testing.assert_close(surrogate_factor(images, torch.tensor(4.0, dtype=F64), "l2"),
                               torch.tensor([5 / math.sqrt(41), 3 / 5], dtype=F64).reshape(2, 1, 1, 1))


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("attack", [partial(surrogate_attack, xi=0.3),
                                    partial(pgd_attack, steps=4, random_start=False)], ids=["surrogate", "pgd"])
def test_attacked_loss_equals_an_explicit_loop(norm, attack):
    torch.manual_seed(2)
    net = MLP(3, 8, 1, activation="tanh").double()
    x, y = torch.randn(6, 3, generator=gen(7), dtype=F64), torch.randn(6, generator=gen(8), dtype=F64)
    eps = torch.tensor([0.0, 0.2, 0.5], dtype=F64)
    by_loop = torch.zeros(3, 6, dtype=F64)
    for k, e in enumerate(eps.tolist()):
        for i in range(6):  # one sample, one radius at a time
            delta = attack(net, x[i:i + 1], y[i:i + 1], e, norm=norm)
            with torch.no_grad():
                by_loop[k, i] = (net(x[i:i + 1] + delta)[0] - y[i]) ** 2
    torch.testing.assert_close(attacked_loss(net, x, y, eps, attack, norm=norm), by_loop.mean(dim=1))
    per_sample, delta = attacked_loss(net, x, y, eps, attack, norm=norm, reduction="none", return_delta=True)
    assert per_sample.shape == (3, 6) and delta.shape == (3, 6, 3)
    torch.testing.assert_close(per_sample, by_loop)
    torch.testing.assert_close(attacked_loss(net, x, y, 0.2, attack, norm=norm), by_loop[1].mean())
    with pytest.raises(ValueError, match="reduction"):
        attacked_loss(net, x, y, 0.2, attack, reduction="sum")
    with pytest.raises(ValueError, match="eps must be a number or a"):
        attacked_loss(net, x, y, torch.ones(2, 2), attack)


# ---- the one contract ----------------------------------------------------------------------
ATTACKS = {
    "surrogate_attack": surrogate_attack,
    "pgd_attack": partial(pgd_attack, steps=3, restarts=2, generator=gen(0)),
    "exhaustive_attack_2d": partial(exhaustive_attack_2d, shells=2, points_per_shell=8),
    "train_pgd": partial(train_pgd, steps=2, generator=gen(0)),
}
CONTRACT_KEYWORDS = {"norm", "loss", "clip", "xi"}


def test_the_protocol_names_the_contract_keywords():
    params = inspect.signature(Attack.__call__).parameters.values()
    assert [p.name for p in params][:5] == ["self", "model", "x", "y", "eps"]
    assert {p.name for p in params if p.kind is p.KEYWORD_ONLY} == CONTRACT_KEYWORDS


# vectors (n, 2) for every attack; images (n, 2, 3, 3) for all but the exhaustive search (d ≤ 2 only)
CASES = [(name, shape) for name in ATTACKS for shape in ((2,), (2, 3, 3))
         if not (name == "exhaustive_attack_2d" and len(shape) > 1)]


@pytest.mark.parametrize("name, shape", CASES, ids=[f"{n}-{len(s)}d" for n, s in CASES])
@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("xi", [0.0, 0.2])
def test_every_attack_follows_the_contract(name, shape, norm, xi):
    attack = ATTACKS[name]
    torch.manual_seed(3)
    d = math.prod(shape)
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 8), nn.Tanh(), nn.Dropout(0.0), nn.Linear(8, 3)).double()
    x = torch.rand(7, *shape, generator=gen(9), dtype=F64)
    y = torch.randint(0, 3, (7,), generator=gen(10))
    eps = 0.3 if norm == "l2" else 0.05
    kwargs = dict(norm=norm, loss=ce, clip=(0.0, 1.0), xi=xi)
    assert set(kwargs) == CONTRACT_KEYWORDS
    inspect.signature(attack).bind(model, x, y, eps, **kwargs)  # callable as the protocol says
    x_before = x.clone()
    stale = torch.full_like(model[1].weight, 3.0)
    model[1].weight.grad = stale.clone()
    for mode in (True, False):
        model.train(mode)
        delta = attack(model, x, y, eps, **kwargs)
        assert all(m.training is mode for m in model.modules())
        assert delta.shape == x.shape and delta.dtype == x.dtype and not delta.requires_grad
        size = delta.flatten(1).norm(dim=1) if norm == "l2" else delta.flatten(1).abs().amax(dim=1)
        assert (size <= eps * (1 + 1e-9)).all()
        assert ((x + delta) >= 0).all() and ((x + delta) <= 1).all()
        assert delta.abs().sum() > 0  # it did attack
    assert torch.equal(model[1].weight.grad, stale) and model[4].weight.grad is None
    assert model[1].bias.grad is None
    assert torch.equal(x, x_before) and not x.requires_grad


class HostRead(Exception):
    pass


def _raise_on_host_read(name):
    def read(self, *args, **kwargs):
        raise HostRead(f"Tensor.{name}")
    return read


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_the_wrn_trainer_attack_and_regulariser_read_nothing_back_to_the_host(norm, monkeypatch):
    """train_pgd (with ξ > 0) and grad_norm_loss under bf16 autocast on channels_last images: no
    tensor value is turned into a Python value (on CUDA each would be a host synchronisation)."""
    torch.manual_seed(4)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    net = net.to(memory_format=torch.channels_last)
    x = torch.rand(6, 3, 8, 8, generator=gen(11)).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (6,), generator=gen(12))
    for name in ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, _raise_on_host_read(name))
    with pytest.raises(HostRead):  # the trap works: surrogate_attack reads its tensor ξ back
        surrogate_attack(net, x, y, 0.1, xi=0.2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        delta = train_pgd(net, x, y, 0.1, norm, steps=2, xi=1e-3, generator=gen(13))
        loss, logits = grad_norm_loss(net, x, y, 0.1, norm)
    loss.backward()
    monkeypatch.undo()
    assert delta.shape == x.shape and logits.shape == (6, 10) and torch.isfinite(loss)
