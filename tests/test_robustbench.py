"""WideResNet.from_robustbench: a checkpoint that the test writes itself in RobustBench's layout
(blockK.layer.i.*, convShortcut, final bn1, DataParallel's module. prefix, the unused
sub_block1 copy) loads into our WideResNet and gives the same logits bit for bit."""
import re

import pytest
import torch

from advexplore.models import WideResNet


def robustbench_layout(state: dict) -> dict:
    """Our names -> RobustBench's, with module. prefixes and a sub_block1 copy of block1."""
    out = {}
    for key, value in state.items():
        name = re.sub(r"^(block\d)\.(\d+)\.", r"\1.layer.\2.", key)
        name = re.sub(r"^bn\.", "bn1.", name.replace(".shortcut.", ".convShortcut."))
        out["module." + name] = value
        if name.startswith("block1."):
            out["module.sub_" + name] = value.clone()
    return out


@pytest.fixture
def trained_looking_wrn():
    torch.manual_seed(0)
    model = WideResNet(16, 2)  # 2 blocks per group: layer indices 0 and 1
    with torch.no_grad():  # BatchNorm statistics and affine parameters away from their defaults
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_()
        model.fc.bias.normal_()
    return model.eval()


def test_robustbench_checkpoint_gives_the_same_logits(trained_looking_wrn, tmp_path):
    state = robustbench_layout(trained_looking_wrn.state_dict())
    for key in ("module.block1.layer.0.convShortcut.weight", "module.block2.layer.1.conv2.weight",
                "module.block3.layer.0.bn1.running_var", "module.sub_block1.layer.1.bn2.weight",
                "module.bn1.running_mean", "module.fc.bias", "module.conv1.weight"):
        assert key in state, key  # the layout of robustbench/model_zoo/architectures/wide_resnet.py
    torch.save({"state_dict": state}, tmp_path / "rb.pt")
    loaded = WideResNet.from_robustbench(tmp_path / "rb.pt", depth=16, widen_factor=2)
    assert not loaded.training
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), trained_looking_wrn(x))
    # a bare state dict without prefixes, given directly, loads the same
    bare = {k.removeprefix("module."): v for k, v in state.items()}
    with torch.no_grad():
        assert torch.equal(WideResNet.from_robustbench(bare, 16, 2)(x), loaded(x))


def test_other_layouts_are_refused_by_name(trained_looking_wrn):
    state = robustbench_layout(trained_looking_wrn.state_dict())
    with pytest.raises(ValueError, match=r"unmatched keys \['mu', 'sigma'\]"):  # input normalisation
        WideResNet.from_robustbench({**state, "mu": torch.zeros(1, 3, 1, 1), "sigma": torch.ones(1, 3, 1, 1)}, 16, 2)
    dm = {"init_conv.weight": torch.zeros(16, 3, 3, 3), "logits.weight": torch.zeros(10, 128)}
    with pytest.raises(ValueError, match=r"unmatched keys \['init_conv.weight', 'logits.weight'\]"):
        WideResNet.from_robustbench(dm, 16, 2)
    with pytest.raises(ValueError, match="shapes differ.*fc.weight"):
        WideResNet.from_robustbench(state, 16, 2, num_classes=5)
    no_bias = {k: v for k, v in state.items() if k != "module.fc.bias"}  # bias_last=False
    assert torch.equal(WideResNet.from_robustbench(no_bias, 16, 2).fc.bias, torch.zeros(10))
