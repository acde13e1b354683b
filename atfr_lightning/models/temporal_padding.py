"""Replicate (instead of zero) temporal padding for the convolutions before SGS.

Zero padding makes a clip's first and last slices differ from the rest even when every frame
is the same, so in SGS's similarity space the edges are outliers and a static clip keeps
several bins (5 for an untrained X3D-S on 16 frames, SGS after res2). Replicate padding along T (spatial
padding stays zero) keeps a static clip's features identical at every t, so SGS can give it
one bin. The change is a forward pre-hook plus the convolution's own ``padding`` attribute:
no parameter or buffer is added or renamed, so pretrained state dicts load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TEMPORAL_PADDINGS = ("zeros", "replicate")


def _pad_time_by_replication(conv: nn.Conv3d, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    # A module-level function (not a closure), so networks stay picklable and deep-copyable.
    pad = conv.temporal_replicate_padding
    # (N, C, T, H, W) -> (N, C, T + 2 * pad, H, W); F.pad lists the last dimension first.
    return (F.pad(args[0], (0, 0, 0, 0, pad, pad), mode="replicate"), *args[1:])


def use_replicate_temporal_padding(module: nn.Module) -> int:
    """Make every ``Conv3d`` in ``module`` with temporal padding > 0 replicate its edge slices.

    The convolution keeps its spatial zero padding and gets temporal padding 0; a forward
    pre-hook pads T by repeating the first and last slices. Calling it again changes nothing.

    Returns:
        The number of convolutions changed.
    """
    changed = 0
    for name, conv in module.named_modules():
        if not isinstance(conv, nn.Conv3d):
            continue
        if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            # "same" padding and non-zero padding modes keep their padding elsewhere
            # (_reversed_padding_repeated_twice); nothing registered here builds them.
            raise ValueError(
                f"replicate temporal padding needs integer zero padding, but Conv3d {name!r} has "
                f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}"
            )
        pad_t, pad_h, pad_w = conv.padding
        if pad_t == 0:
            continue
        conv.padding = (0, pad_h, pad_w)
        conv.temporal_replicate_padding = pad_t
        conv.register_forward_pre_hook(_pad_time_by_replication)
        changed += 1
    return changed


def check_temporal_padding(temporal_padding: str) -> None:
    if temporal_padding not in TEMPORAL_PADDINGS:
        raise ValueError(f"temporal_padding must be one of {TEMPORAL_PADDINGS}, got {temporal_padding!r}")

