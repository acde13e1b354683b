"""Pooling that works for any temporal length (SGS changes T per clip)."""

from __future__ import annotations

import torch
from torch import nn

from atfr_lightning.models.masking import MaskAware, masked_temporal_mean


class TemporalGlobalAvgPool3d(nn.Module, MaskAware):
    """Average over all of T, then a fixed spatial average pool (stride 1).

    Replaces PyTorchVideo heads' ``AvgPool3d((T, kh, kw), stride=1)``, whose kernel is sized
    for the input T: averaging is separable, so at the original T the output is the same, and
    it stays defined when SGS leaves fewer slices.

    Args:
        spatial_kernel: (kh, kw) of the original pool.

    Shapes: (N, C, T, H, W) -> (N, C, 1, H - kh + 1, W - kw + 1).
    """

    def __init__(self, *, spatial_kernel: tuple[int, int]) -> None:
        super().__init__()
        self.spatial_kernel = tuple(spatial_kernel)
        self.spatial = nn.AvgPool3d((1, *self.spatial_kernel), stride=1)

    @classmethod
    def from_avg_pool(cls, pool: nn.AvgPool3d) -> "TemporalGlobalAvgPool3d":
        kernel = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * 3
        return cls(spatial_kernel=(kernel[1], kernel[2]))

    def extra_repr(self) -> str:
        return f"spatial_kernel={self.spatial_kernel}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Under masked execution the mean covers each clip's valid slices only.
        return self.spatial(masked_temporal_mean(x, getattr(self, "temporal_mask", None)))


def make_temporal_pools_adaptive(module: nn.Module) -> int:
    """Swap every fixed ``AvgPool3d`` with stride 1 (a head pool) for the adaptive one.

    Returns the number of pools replaced.
    """
    replaced = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.AvgPool3d) and _stride_is_one(child):
            setattr(module, name, TemporalGlobalAvgPool3d.from_avg_pool(child))
            replaced += 1
        else:
            replaced += make_temporal_pools_adaptive(child)
    return replaced


def _stride_is_one(pool: nn.AvgPool3d) -> bool:
    stride = pool.stride if isinstance(pool.stride, tuple) else (pool.stride,) * 3
    return all(s == 1 for s in stride)


def make_temporal_max_pools_round_up(module: nn.Module) -> int:
    """Let every ``MaxPool3d`` that downsamples time keep a last, incomplete window (ceil mode).

    C2D and I3D halve T after res2 with ``MaxPool3d((2, 1, 1), stride=2)``, which drops an odd
    last slice and fails on a single one (B' = 1 after SGS). With ceil mode an odd last slice
    is pooled alone; at an even T, such as the builder's, the output is unchanged. Under masked
    execution the pool needs no mask: it follows a ReLU, so valid slices are >= 0 and padding
    is 0, and max(valid, 0) = valid.

    Returns the number of pools changed.
    """
    changed = 0
    for child in module.modules():
        if isinstance(child, nn.MaxPool3d):
            kernel = child.kernel_size if isinstance(child.kernel_size, tuple) else (child.kernel_size,) * 3
            padding = child.padding if isinstance(child.padding, tuple) else (child.padding,) * 3
            if kernel[0] > 1 and padding[0] == 0:
                child.ceil_mode = True
                changed += 1
    return changed
