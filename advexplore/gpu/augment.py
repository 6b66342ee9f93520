"""Standard CIFAR augmentation on batched tensors on the device (no DataLoader, no host sync):
random crop of 32×32 from the image zero-padded by 4 pixels, and a horizontal flip with
probability 1/2 (He et al. 2016; the usual adversarial-training recipe)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4) -> torch.Tensor:
    """x (n, C, H, W) -> (n, C, H, W): each image shifted by (dy, dx) ~ U{−p … p}² (zeros
    shifted in) and mirrored left–right with probability 1/2, all drawn from `generator`
    (on x's device). Example: random_crop_flip(torch.rand(8, 3, 32, 32)).shape == (8, 3, 32, 32)."""
    if x.dim() != 4:
        raise ValueError(f"x must have shape (n, C, H, W), got {tuple(x.shape)}")
    n, _, h, w = x.shape
    dev = x.device
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=dev)
    flip = torch.rand(n, generator=generator, device=dev) < 0.5
    padded = F.pad(x, (padding,) * 4)
    rows = (offsets[0][:, None] + torch.arange(h, device=dev))[:, None, :, None]    # (n, 1, H, 1)
    cols = offsets[1][:, None] + torch.arange(w, device=dev)                        # (n, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]          # (n, 1, 1, W)
    batch = torch.arange(n, device=dev)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=dev)[None, :, None, None]
    return padded[batch, chans, rows, cols]
