"""Clips whose content keeps different B' after SGS, for the execution tests of every backbone."""

from __future__ import annotations

import torch

from atfr_lightning.models import get_backbone_spec


def frames_for(name: str) -> int:
    """8 frames; SlowFast 4 * alpha, so its Slow pathway gets 4 (with 2, both slices are equally
    far from their mean, so SGS has nothing to rank and no gradient)."""
    spec = get_backbone_spec(name)
    return 4 * spec.alpha if spec.family == "slowfast" else 8


def mixed_clips(n: int, frames: int, crop: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n, 3, frames, crop, crop): static, half static, a brightness ramp, then noise."""
    torch.manual_seed(1)
    x = torch.randn(n, 3, frames, crop, crop, dtype=dtype)
    x[0] = x[0, :, :1]
    x[1, :, : frames // 2] = x[1, :, :1]
    x[2] = x[2, :, :1] + torch.linspace(0, 3, frames, dtype=dtype).view(1, frames, 1, 1)
    return x
