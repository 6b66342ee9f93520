"""Wide residual networks (Zagoruyko & Komodakis 2016) for 32×32 images: WRN-34-10 (Tables 1–2
of paper 002, paper 000's WRN evidence) and WRN-34-1 (the "ResNet-34" of paper 002, Fig. 2).

WRN-d-k has 3 groups ("block1" … "block3") of n = (d − 4)/6 pre-activation basic blocks with
16k, 32k, 64k channels, after a 3×3 stem conv ("conv1") and before BN–activation–pool–"fc".
Any of these five parts can be frozen (paper 000: adversarial training with partially frozen
layers): its parameters get requires_grad=False and its BatchNorm layers stay in eval mode,
so a frozen part computes the same function for the whole run.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from .activations import ReLUSoftplusGrad

PARTS = ("conv1", "block1", "block2", "block3", "fc")
WRN_ACTIVATIONS = ("relu", "relu_softplus", "softplus")


def check_wrn_activation(name) -> str:
    if name not in WRN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {WRN_ACTIVATIONS}, got {name!r}")
    return name


def check_wrn_depth(depth) -> int:
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth must be 6n + 4 with n ≥ 1 (10, 16, 22, 28, 34, …), got {depth!r}")
    return depth


def check_frozen_parts(parts: Iterable[str]) -> tuple[str, ...]:
    parts = tuple(parts)
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"frozen parts must be among {PARTS}, got {bad}")
    return parts


def make_activation(name: str = "relu", beta: float = 10.0) -> nn.Module:
    """"relu"; "relu_softplus": ReLU forward, Softplus(β) backward (paper 002, Fig. 2);
    "softplus": Softplus(β) both ways."""
    check_wrn_activation(name)
    if name == "relu":
        return nn.ReLU(inplace=False)
    if name == "relu_softplus":
        return ReLUSoftplusGrad(beta)
    return nn.Softplus(beta=beta)


class BasicBlock(nn.Module):
    """Pre-activation block: x + conv(act(bn(conv(act(bn(x)))))), with a 1×1 conv shortcut
    (on act(bn(x))) when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: str, beta: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.act1 = make_activation(activation, beta)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = make_activation(activation, beta)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = None if (c_in == c_out and stride == 1) else nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        out = self.conv1(h)
        out = self.conv2(self.act2(self.bn2(out)))
        return out + skip


class WideResNet(nn.Module):
    """WRN-depth-widen_factor for (n, 3, 32, 32) inputs in [0, 1] -> (n, num_classes) logits.

    Args:
        depth: 6n + 4 (34 -> 5 blocks per group; 10 -> 1, the toy size of the tests).
        widen_factor: k ≥ 1 (10 for WRN-34-10, 1 for ResNet-34-like WRN-34-1).
        num_classes: outputs. activation: "relu", "relu_softplus" (ReLU forward, Softplus(β)
            backward), "softplus". beta: β of the softplus.
        frozen: parts of PARTS to freeze (e.g. ("conv1", "block1")).
    Example:
        >>> model = WideResNet(34, 10)                      # 46.2 M parameters
        >>> WideResNet(10, 1, frozen=("block1",))(torch.rand(2, 3, 32, 32)).shape   # (2, 10)
    """

    def __init__(self, depth: int = 34, widen_factor: int = 10, num_classes: int = 10,
                 activation: str = "relu", beta: float = 10.0, frozen: Iterable[str] = ()):
        super().__init__()
        check_wrn_depth(depth)
        if not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError(f"widen_factor must be a positive int, got {widen_factor!r}")
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int ≥ 2, got {num_classes!r}")
        make_activation(activation, beta)  # validates
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.depth, self.widen_factor = depth, widen_factor
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        groups = []
        for g in range(3):
            blocks = [BasicBlock(widths[g] if i == 0 else widths[g + 1], widths[g + 1],
                                 (1 if g == 0 else 2) if i == 0 else 1, activation, beta) for i in range(n)]
            groups.append(nn.Sequential(*blocks))
        self.block1, self.block2, self.block3 = groups
        self.bn = nn.BatchNorm2d(widths[3])
        self.act = make_activation(activation, beta)
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        self.frozen: tuple[str, ...] = ()
        self.freeze(frozen)

    @classmethod
    def from_robustbench(cls, checkpoint, depth: int = 34, widen_factor: int = 10,
                         num_classes: int = 10) -> "WideResNet":
        """A WideResNet holding the weights of a RobustBench-layout checkpoint (the TRADES-style
        WideResNet of robustbench/model_zoo/architectures/wide_resnet.py), in eval mode.

        checkpoint: a local file (torch.save of a state dict or of {"state_dict": …};
            loaded with weights_only=True, on the CPU) or the state dict itself. Nothing is
            downloaded. `module.` prefixes (DataParallel) are stripped, the unused
            `sub_block1.*` is dropped, and names map blockK.layer.i.* -> blockK.i.*,
            convShortcut -> shortcut, the final bn1 -> bn; shapes and parameter counts agree
            (46,160,474 for WRN-34-10). A missing fc.bias (bias_last=False) is zero.
        Raises ValueError naming the first unmatched keys for other layouts (DMWideResNet,
        models with input normalisation, …) and the first mismatched shapes."""
        if not isinstance(checkpoint, dict):
            checkpoint = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
        state = checkpoint.get("state_dict", checkpoint)
        model = cls(depth, widen_factor, num_classes)
        ours = model.state_dict()
        renamed, unmatched = {}, []
        for key, value in state.items():
            name = re.sub(r"^(module\.)+", "", key)
            if name.startswith("sub_block1."):
                continue
            name = re.sub(r"^(block\d)\.layer\.(\d+)\.", r"\1.\2.", name)
            name = re.sub(r"^bn1\.", "bn.", name.replace(".convShortcut.", ".shortcut."))
            if name in ours:
                renamed[name] = value
            else:
                unmatched.append(key)
        if "fc.bias" not in renamed and "fc.weight" in renamed:
            renamed["fc.bias"] = torch.zeros_like(ours["fc.bias"])
        missing = [key for key in ours if key not in renamed]
        if unmatched or missing:
            raise ValueError(f"not a RobustBench WideResNet-{depth}-{widen_factor} state dict: unmatched "
                             f"keys {unmatched[:5]}, missing {missing[:5]} (other layouts such as "
                             "DMWideResNet or models with input normalisation are not supported)")
        wrong = [f"{k}: {tuple(v.shape)} vs {tuple(ours[k].shape)}" for k, v in renamed.items()
                 if v.shape != ours[k].shape]
        if wrong:
            raise ValueError(f"shapes differ from WideResNet({depth}, {widen_factor}, num_classes="
                             f"{num_classes}): {wrong[:3]}; check depth, widen_factor, num_classes")
        model.load_state_dict(renamed)
        return model.eval()

    def freeze(self, parts: Iterable[str]) -> "WideResNet":
        """Freeze the named parts (replacing any earlier choice); the others train."""
        parts = check_frozen_parts(parts)
        self.frozen = parts
        for name in PARTS:
            for p in self.part(name).parameters():
                p.requires_grad_(name not in parts)
        return self.train(self.training)

    def part(self, name: str) -> nn.Module:
        """The module of a part; "fc" includes the final BatchNorm."""
        if name == "fc":
            return nn.ModuleList([self.bn, self.fc])
        return getattr(self, name)

    def train(self, mode: bool = True) -> "WideResNet":
        super().train(mode)
        for name in self.frozen:  # a frozen part keeps its BatchNorm statistics fixed too
            self.part(name).eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block3(self.block2(self.block1(self.conv1(x))))
        h = self.act(self.bn(h))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1))
