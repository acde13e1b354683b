"""Evaluation-only folding: batch norm merged into the convolution before it.

In evaluation a batch norm is a fixed per-channel affine map, so ``conv -> BN`` is one
convolution with scaled weights and a bias. Folding removes one operator per convolution
(73 of the 190 operators of X3D-S after res2), which matters most where SGS leaves few temporal
slices: on a CPU a small pass costs mostly per-operator time, not arithmetic.

Exact per clip under masked and bucketed execution: the unfolded network re-zeroes a clip's
padding after every batch norm; the folded one leaves the padding to whatever the bias makes
it and zeroes it only where something reads across time, at the input of every temporal
convolution and temporal max pool (:class:`~atfr_lightning.models.masking.MaskedTemporalConv3d`);
global pools and squeeze-excitation already average valid slices only.

Folding also swaps two operators for cheaper equivalents (:func:`simplify_for_inference`):
PyTorchVideo's Swish (a multiply and a sigmoid) for one SiLU, and every pointwise convolution for
one that runs as a matrix product when its input has been pooled to (N, C, 1, 1, 1) (X3D's
squeeze-excitation and head), where a 3-D convolution call costs many times the arithmetic.

A folded network cannot be trained (its batch norms are gone) and its state dict is not the
builder's: fold a copy (:func:`folded_copy`) and keep the original for training and checkpoints.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from pytorchvideo.layers.swish import Swish
from torch import nn

from atfr_lightning.models.masking import MaskedTemporalConv3d, MaskedTemporalMaxPool3d

# PyTorchVideo's attribute names for a convolution and the batch norm applied right after it
# (ResNet bottlenecks and shortcuts, stems, X3D's projected head pool, SlowFast's laterals,
# R(2+1)D's factorised convolutions).
CONV_NORM_PAIRS = (
    ("conv", "norm"),
    ("conv_a", "norm_a"),
    ("conv_b", "norm_b"),
    ("conv_c", "norm_c"),
    ("branch1_conv", "branch1_norm"),
    ("pre_conv", "pre_norm"),
    ("post_conv", "post_norm"),
    ("conv_fast_to_slow", "norm"),
)


def fold_batch_norm(conv: nn.Conv3d, norm: nn.BatchNorm3d) -> None:
    """Make ``conv`` compute ``norm(conv(x))`` in evaluation (in place; adds a bias if missing)."""
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError(f"cannot fold a batch norm without running statistics: {norm}")
    with torch.no_grad():
        weight = norm.weight if norm.affine else torch.ones_like(norm.running_var)
        shift = norm.bias if norm.affine else torch.zeros_like(norm.running_mean)
        scale = weight / torch.sqrt(norm.running_var + norm.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
        conv.weight.mul_(scale.view(-1, *([1] * (conv.weight.dim() - 1))))
        conv.bias = nn.Parameter((bias - norm.running_mean) * scale + shift, requires_grad=False)


def _last_conv(module: nn.Module) -> nn.Conv3d | None:
    """The convolution whose output a following batch norm sees (Conv2plus1d: its second one)."""
    if isinstance(module, nn.Conv3d):
        return module
    if hasattr(module, "conv_xy_first") and hasattr(module, "conv_t") and hasattr(module, "conv_xy"):
        last = module.conv_t if module.conv_xy_first else module.conv_xy
        return last if isinstance(last, nn.Conv3d) else None
    return None


def _first_conv_of_factorised(module: nn.Module) -> nn.Conv3d | None:
    """Conv2plus1d's first convolution, which its own ``norm`` follows."""
    if not hasattr(module, "conv_xy_first"):
        return None
    first = module.conv_xy if module.conv_xy_first else module.conv_t
    return first if isinstance(first, nn.Conv3d) else None


def _pop_batch_norm(owner: nn.Module, name: str) -> nn.BatchNorm3d | None:
    """Take the batch norm at ``owner.<name>`` (or the first of a Sequential there) out, leaving Identity."""
    norm = getattr(owner, name, None)
    if isinstance(norm, nn.BatchNorm3d):
        setattr(owner, name, nn.Identity())
        return norm
    if isinstance(norm, nn.Sequential) and len(norm) and isinstance(norm[0], nn.BatchNorm3d):
        first = norm[0]
        norm[0] = nn.Identity()  # X3D: Sequential(BN, squeeze-excitation) after the depthwise conv
        return first
    return None


class PointwiseConv3d(nn.Conv3d):
    """A 1x1x1 Conv3d that runs as ``F.linear`` on a pooled (N, C, 1, 1, 1) input.

    The same weights and the same result; on other inputs it is the convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5 and x.shape[2] == x.shape[3] == x.shape[4] == 1:
            weight = self.weight.view(self.out_channels, self.in_channels)
            return F.linear(x.reshape(x.shape[0], -1), weight, self.bias).view(x.shape[0], -1, 1, 1, 1)
        return super().forward(x)


def _is_pointwise(module: nn.Module) -> bool:
    return (
        type(module) is nn.Conv3d and module.kernel_size == (1, 1, 1) and module.stride == (1, 1, 1)
        and module.padding == (0, 0, 0) and module.groups == 1
    )


def simplify_for_inference(net: nn.Module) -> int:
    """Swap Swish for SiLU and pointwise convolutions for :class:`PointwiseConv3d` (in place).

    The same function up to float rounding. Returns the number of modules swapped.
    """
    swapped = 0
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if type(child) is Swish:
                setattr(module, name, nn.SiLU())
                swapped += 1
            elif _is_pointwise(child):
                child.__class__ = PointwiseConv3d
                swapped += 1
    return swapped


def fold_for_inference(net: nn.Module) -> int:
    """Fold every batch norm that directly follows a convolution into it, and simplify (in place).

    ``net`` must be in evaluation mode; an :class:`AdaptiveTemporalNetwork` refuses ``train()``
    afterwards. Returns the number of
    batch norms folded; batch norms elsewhere (e.g. SGS's own) stay as they are.
    """
    if net.training:
        raise ValueError("fold_for_inference needs a network in evaluation mode (call .eval() first)")
    folded = 0
    for module in list(net.modules()):
        first = _first_conv_of_factorised(module)
        if first is not None and (norm := _pop_batch_norm(module, "norm")) is not None:
            fold_batch_norm(first, norm)
            folded += 1
            continue
        for conv_name, norm_name in CONV_NORM_PAIRS:
            conv = _last_conv(getattr(module, conv_name, None))
            if conv is None:
                continue
            norm = _pop_batch_norm(module, norm_name)
            if norm is not None:
                fold_batch_norm(conv, norm)
                folded += 1
    simplify_for_inference(net)
    for module in net.modules():
        if isinstance(module, (MaskedTemporalConv3d, MaskedTemporalMaxPool3d)):
            module.zero_input_padding = True  # no batch norm re-zeroes the padding any more
    net.folded_for_inference = True  # AdaptiveTemporalNetwork.train() refuses from now on
    return folded


def folded_copy(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` in evaluation mode with its batch norms folded; ``net`` is unchanged."""
    copy_ = copy.deepcopy(net).eval()
    fold_for_inference(copy_)
    return copy_
