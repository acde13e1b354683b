"""Resample a feature map's temporal axis to another length, per clip (SlowFast's lateral fusion).

The resampling is PyTorch's adaptive average pool along T: output slice i averages input slices
[floor(i * S / D), ceil((i + 1) * S / D)) for S input and D output slices. It is the identity
when S = D, an exact mean when S is a multiple of D, and repeats slices when D > S.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adaptive_average_weights(
    src_lengths: torch.Tensor, dst_lengths: torch.Tensor, *, src_steps: int, dst_steps: int
) -> torch.Tensor:
    """Per-clip resampling weights, zero outside each clip's valid slices.

    Args:
        src_lengths: (N,) valid input slices per clip, each in 1..src_steps.
        dst_lengths: (N,) valid output slices per clip, each in 1..dst_steps.
        src_steps: S, input slices including padding.
        dst_steps: D, output slices including padding.

    Returns:
        (N, D, S) weights W with out[n, :, i] = sum_j W[n, i, j] * x[n, :, j].
    """
    src = src_lengths.view(-1, 1, 1).long()
    dst = dst_lengths.view(-1, 1, 1).long()
    i = torch.arange(dst_steps, device=src.device).view(1, -1, 1)
    j = torch.arange(src_steps, device=src.device).view(1, 1, -1)
    start = torch.div(i * src, dst, rounding_mode="floor")
    end = torch.div((i + 1) * src + dst - 1, dst, rounding_mode="floor")
    inside = (j >= start) & (j < end) & (i < dst)
    return inside.float() / (end - start).clamp_min(1).float()


def resample_time(
    x: torch.Tensor, dst_steps: int, *, src_lengths: torch.Tensor | None = None, dst_lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, C, S, H, W) -> (N, C, D, H, W), D = ``dst_steps``.

    Without lengths every clip uses all S input and D output slices (one adaptive average pool,
    which fvcore counts as 0 like every pool). With lengths (masked execution) each clip is
    resampled from its own valid slices to its own valid output slices, and the padding is 0.
    """
    if (src_lengths is None) != (dst_lengths is None):
        raise ValueError("pass both src_lengths and dst_lengths, or neither")
    if src_lengths is None:
        if x.shape[2] == dst_steps:
            return x
        return F.adaptive_avg_pool3d(x, (dst_steps, x.shape[3], x.shape[4]))
    weights = adaptive_average_weights(src_lengths, dst_lengths, src_steps=x.shape[2], dst_steps=dst_steps)
    # (N, D, S) x (N, C, S, H, W) -> (N, C, D, H, W)
    return torch.einsum("nds,ncshw->ncdhw", weights.to(device=x.device, dtype=x.dtype), x)
