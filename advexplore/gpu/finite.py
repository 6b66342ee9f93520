"""Non-finite values stop a run: a NaN/inf loss, gradient norm or weight ends training with an
error naming the epoch, the step and the quantity, and the last good checkpoint is kept.

Design (why the check is not per step): reading a flag on the host after every step would force a
device synchronisation per step and stall the CUDA queue (and torch.compile graphs), which the
trainer otherwise avoids. Instead `record` keeps, ON THE DEVICE, the first step of the epoch at
which a quantity was not finite (a few tiny kernels, no sync), and `check` reads it once at the
end of the epoch, in the same host read as the epoch's metrics (the epoch's one sync), before
anything is evaluated or written. A diverged epoch therefore runs to its end (its work is wasted, nothing is saved) and the
error still names the exact first bad step. Under torchrun the ranks' records are reduced, so
every rank stops together with the same message.
"""
from __future__ import annotations

import torch

from .._validate import NonFiniteError
from .distributed import DistInfo, all_reduce_max

QUANTITIES = ("loss", "gradient norm", "weights' norm")


def total_norm(tensors) -> torch.Tensor:
    """‖concat(tensors)‖₂ as a 0-d float32 device tensor (inf/NaN if any element is), no sync."""
    tensors = [t.detach() for t in tensors if t is not None]
    if not tensors:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([n.float() for n in torch._foreach_norm(tensors)]))


class FiniteWatch:
    """watch.start_epoch(); per step watch.record(loss, grad_norm, weight_norm); at the end
    metrics = watch.check(device_metrics, epoch, n_steps, info, checkpoint)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.start_epoch()

    def start_epoch(self) -> None:
        # fill kernels, not host-to-device copies (a copy from pageable memory would synchronise)
        self.steps = torch.zeros((), dtype=torch.float64, device=self.device)
        self.first = torch.full((3,), -1.0, dtype=torch.float64, device=self.device)  # step, quantity, value

    def record(self, loss: torch.Tensor, grad_norm: torch.Tensor, weight_norm: torch.Tensor) -> None:
        """Note the step's quantities (device tensors); remembers the first non-finite one."""
        values = torch.stack([loss.detach().double().reshape(()), grad_norm.to(self.device).double().reshape(()),
                              weight_norm.to(self.device).double().reshape(())])
        bad = ~torch.isfinite(values)
        which = bad.to(torch.int64).argmax()
        now = torch.stack([self.steps, which.double(), values.gather(0, which.reshape(1))[0]])  # no .item()
        self.first = torch.where((self.first[0] < 0) & bad.any(), now, self.first)
        self.steps += 1

    def check(self, metrics: torch.Tensor, epoch: int, n_steps: int, info: DistInfo, checkpoint) -> list[float]:
        """metrics (a 1-d float64 device tensor) as a list, read in one host sync together with
        the record; NonFiniteError instead if any rank recorded a non-finite step this epoch."""
        first = self.first
        # the earliest bad step over ranks: max of −(step·4 + quantity), −inf where nothing was bad
        key = torch.where(first[0] >= 0, -(first[0] * 4 + first[1]), torch.full_like(first[0], -float("inf")))
        *values, worst = torch.cat([metrics, all_reduce_max(key.reshape(1), info)]).tolist()
        if worst == -float("inf"):
            return values
        code = int(-worst)
        step, quantity = code // 4, code % 4
        value = first[2].item() if int(first[0].item()) == step else float("nan")
        kept = (f"the last good checkpoint {checkpoint} (after epoch {epoch}) is kept" if epoch > 0
                else "no checkpoint exists yet")
        raise NonFiniteError(f"training diverged: the {QUANTITIES[quantity]} is {value} at epoch {epoch + 1}, step "
                             f"{step + 1} of {n_steps}; the run stopped there and {kept}. A smaller lr (or "
                             "precision fp32) usually helps")
