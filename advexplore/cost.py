"""Counting what a training run costs (paper 000's argument for regularisers): forward passes,
backward passes and wall time, measured on the model itself with hooks (`count_passes`), and
floating-point operations with torch.utils.flop_counter.FlopCounterMode (`count_flops`), which
also sees what a pass count cannot: a double backward costs more than a backward."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class TrainingCost:
    """forward/backward: passes of a batch through the model; samples_*: rows in them;
    seconds: wall time of the run."""
    forward: int = 0
    backward: int = 0
    samples_forward: int = 0
    samples_backward: int = 0
    seconds: float = 0.0
    _start: float = field(default=0.0, repr=False)

    @property
    def passes(self) -> int:
        return self.forward + self.backward

    def as_dict(self) -> dict:
        return {"forward": self.forward, "backward": self.backward, "passes": self.passes,
                "samples_forward": self.samples_forward, "samples_backward": self.samples_backward,
                "seconds": self.seconds}


class count_passes:
    """Context manager: counts model(…) calls (forward) and gradient flows back through their
    outputs (backward, via a tensor hook on each output that requires grad) while active.

    A double backward (differentiating an input gradient built with create_graph=True, as the
    input-gradient regulariser does) is counted as ONE backward although it costs about two:
    `count_flops` measures it.

    Example:
        >>> with count_passes(model) as cost:
        ...     train(model)
        >>> cost.forward, cost.backward, cost.seconds
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.cost = TrainingCost()
        self._handle = None

    def _hook(self, module, inputs, output):
        rows = output.shape[0] if output.dim() else 1
        self.cost.forward += 1
        self.cost.samples_forward += rows
        if output.requires_grad:
            def on_grad(grad, rows=rows):
                self.cost.backward += 1
                self.cost.samples_backward += rows
            output.register_hook(on_grad)

    def __enter__(self) -> TrainingCost:
        self._handle = self.model.register_forward_hook(self._hook)
        self.cost._start = time.perf_counter()
        return self.cost

    def __exit__(self, *exc) -> None:
        self.cost.seconds += time.perf_counter() - self.cost._start
        self._handle.remove()


@dataclass
class FlopCost:
    """flops: floating-point operations of the matrix products and convolutions run (2·m·n·k
    per (m×k)·(k×n) product; elementwise operations are not counted), forward, backward and
    double backward alike; by_operator: the same split by aten operator; seconds: wall time."""
    flops: int = 0
    seconds: float = 0.0
    by_operator: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"flops": self.flops, "seconds": self.seconds, "by_operator": dict(self.by_operator)}


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker, whose module hooks make
    torch.autograd.grad fail on leaf inputs (pytorch/pytorch#131753), i.e. on the input
    gradient of the regularisers; the total needs no per-module split."""
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class count_flops:
    """Context manager: FLOPs (torch.utils.flop_counter.FlopCounterMode, which sees every
    operator at the dispatcher, so autograd's backward and double backward too) and wall time
    of the code run inside it, e.g. one training step:

        >>> with count_flops() as cost:
        ...     regularized_risk(model, x, y, 0.1, omega="input_gradient", create_graph=True).backward()
        >>> cost.flops, cost.seconds

    A Linear layer's forward on (n, d_in) costs 2·n·d_in·d_out."""

    def __init__(self):
        self.cost = FlopCost()
        self._mode = FlopCounterMode(display=False)
        self._mode.mod_tracker = _GlobalOnly()
        self._start = 0.0

    def __enter__(self) -> FlopCost:
        self._mode.__enter__()
        self._start = time.perf_counter()
        return self.cost

    def __exit__(self, *exc) -> None:
        self.cost.seconds += time.perf_counter() - self._start
        self._mode.__exit__(*exc)
        counts = self._mode.get_flop_counts().get("Global", {})
        self.cost.by_operator = {str(op): int(n) for op, n in counts.items()}
        self.cost.flops = sum(self.cost.by_operator.values())
