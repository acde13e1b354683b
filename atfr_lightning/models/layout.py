"""The memory layout a network runs in at inference: contiguous or channels-last 3D.

On a CPU, PyTorch's depthwise 3D convolutions (X3D's and CSN's 3x3x3 convolutions with one
group per channel) reorder a contiguous input into oneDNN's channel-blocked layout and back on
every call; in channels-last 3D they do not. X3D-S ran 1.4-1.9x faster channels-last from batch
2 up (64², with or without SGS, side by side), while networks of dense convolutions gained 0-19 %
at batch 8, -12 % to +3 % at batch 2-4 and lost up to 13 % at batch 1 (``benchmarks/layout_choice.py``,
docs/backbones.md, "Layout"). Hence the ``auto`` rule: channels-last on a CPU where the network
has a depthwise convolution with a spatial extent, contiguous otherwise (no GPU has been measured).
"""

from __future__ import annotations

import torch
from torch import nn

LAYOUTS = ("auto", "contiguous", "channels_last")


def has_depthwise_convolution(net: nn.Module) -> bool:
    """Whether some 3D convolution of ``net`` is depthwise with a spatial extent (X3D, CSN)."""
    return any(
        isinstance(m, nn.Conv3d) and m.groups > 1 and m.groups == m.in_channels == m.out_channels
        and max(m.kernel_size[1:]) > 1
        for m in net.modules()
    )


def inference_layout(net: nn.Module, device: torch.device | str, layout: str = "auto") -> str:
    """``"contiguous"`` or ``"channels_last"``: ``layout`` itself, or for ``"auto"`` the measured choice."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout != "auto":
        return layout
    on_cpu = torch.device(device).type == "cpu"
    return "channels_last" if on_cpu and has_depthwise_convolution(net) else "contiguous"
