"""FLOP counting of a training step (advexplore.cost.count_flops) against products counted by
hand, and the point of counting FLOPs: a double backward costs more than a single one."""
import torch
from torch import nn

from advexplore.cost import count_flops
from advexplore.models import MLP
from advexplore.regularized import regularized_risk


def test_linear_forward_is_two_n_din_dout():
    n, d_in, d_out = 7, 5, 3
    layer = nn.Linear(d_in, d_out)
    with count_flops() as cost:
        layer(torch.randn(n, d_in))
    assert cost.flops == 2 * n * d_in * d_out
    assert cost.seconds > 0 and sum(cost.by_operator.values()) == cost.flops


def test_backward_counted_by_hand_and_double_backward_counts_more():
    n, d, w = 11, 4, 6
    torch.manual_seed(0)
    model = MLP(d, w, 1)
    x, y = torch.randn(n, d), torch.randn(n)
    with count_flops() as single:
        ((model(x) - y) ** 2).mean().backward()
    forward = 2 * n * (d * w + w * 1)
    # backward: the weight gradient of each layer costs its forward product again, and the
    # input gradient of the output layer once more (x itself needs no gradient)
    assert single.flops == forward + forward + 2 * n * w * 1
    with count_flops() as double:  # input-gradient regulariser: create_graph=True, then backward
        regularized_risk(model, x, y, 0.1, omega="input_gradient", create_graph=True).backward()
    assert double.flops > single.flops
    assert double.as_dict()["flops"] == double.flops
