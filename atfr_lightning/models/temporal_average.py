"""A fixed k:1 temporal average: the non-adaptive control for SGS at the same point."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FixedTemporalAverage(nn.Module):
    """Average each run of k consecutive slices into one, the same for every clip.

    Kernel = stride = k along T, no padding; H and W are kept. Placed where SGS would sit, it
    gives every clip T / k slices whatever its content, so the layers after it cost about 1/k.

    Args:
        stride: k, the number of slices averaged into one.

    Shapes: (N, C, T, H, W) -> (N, C, T / k, H, W); T must be a multiple of k.
    """

    def __init__(self, *, stride: int) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.stride = stride

    def extra_repr(self) -> str:
        return f"stride={self.stride}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] % self.stride:
            # avg_pool3d would silently drop the last T mod k slices.
            raise ValueError(
                f"FixedTemporalAverage(stride={self.stride}) needs T divisible by {self.stride}, got T = {x.shape[2]}"
            )
        return F.avg_pool3d(x, (self.stride, 1, 1))
