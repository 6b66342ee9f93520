"""Counting what a training run costs (paper 000's argument for regularisers): forward passes,
backward passes and wall time, measured on the model itself with hooks."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from torch import nn


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
    input-gradient regulariser does) is counted as ONE backward although it costs about two;
    `extra_backward` lets the caller add such passes by hand.

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

    def extra_backward(self, passes: int, rows: int) -> None:
        self.cost.backward += passes
        self.cost.samples_backward += passes * rows

    def __enter__(self) -> TrainingCost:
        self._handle = self.model.register_forward_hook(self._hook)
        self.cost._start = time.perf_counter()
        return self.cost

    def __exit__(self, *exc) -> None:
        self.cost.seconds += time.perf_counter() - self.cost._start
        self._handle.remove()
