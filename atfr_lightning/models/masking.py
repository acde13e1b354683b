"""Masked execution: run the layers after SGS on a zero-padded batch without any leak.

After SGS, clip n has B'_n valid temporal slices and the batch is padded to B'max. In the
layers after SGS, padding can leak into valid slices in three ways: batch norm shifts the zeros
(and, in training, counts them in its statistics), a temporal convolution then reads the shifted
padding, and global pools average over it. Masked execution closes all three: batch norm uses
only valid slices for its statistics and re-zeroes the padding, and global pools average over
valid slices only. A temporal convolution then reads zeros past a clip's end, exactly what its
own zero padding would give on the clip alone. So every clip's output is the one it would have
alone at its own length; in training, batch norm statistics are those of all valid slices of
the batch. One batched pass costs B'max slices per clip.

A network folded for inference (:mod:`atfr_lightning.models.inference`) has no batch norm left
to re-zero the padding; its temporal convolutions and temporal max pools zero their own input's
padding instead (``zero_input_padding``), which is all that reads across time besides the pools.

Supported inside the masked region: convolutions followed by batch norm, element-wise ops,
``BatchNorm3d``, fvcore's 3-D ``SqueezeExcitation`` and this project's temporal pools; temporal
strides of 2 are followed by scaling the lengths (ceil), other strides by a
:class:`StridedTemporalMask` (SlowFast's lateral connections). The C2D/I3D temporal max pool
needs no mask (see ``pooling.make_temporal_max_pools_round_up``). Other layers that mix time
(non-local blocks) are not masked.
"""

from __future__ import annotations

import torch
from fvcore.nn.squeeze_excitation import SqueezeExcitation
from torch import nn

from atfr_lightning.models.packing import (
    PackedLengths,
    packed_conv3d,
    packed_max_pool3d,
    rows_of_clips,
    segment_mean,
)


class TemporalMask:
    """Valid temporal lengths of the current batch, shared by every masked module of a network."""

    def __init__(self) -> None:
        self._lengths: torch.Tensor | None = None  # (N,) int64
        self.steps: int = 0  # B'max at the SGS output
        self.generation = 0  # bumped whenever the lengths change; keys the mask cache
        self._masks: dict[tuple, torch.Tensor] = {}
        self._masks_generation = -1
        self.packed: PackedLengths | None = None  # set for the length of a packed pass

    def packed_state(self) -> PackedLengths | None:
        """The packed pass's row lengths, or None when tensors are (N, C, T, H, W)."""
        return self.packed

    @property
    def lengths(self) -> torch.Tensor | None:
        return self._lengths

    @lengths.setter
    def lengths(self, value: torch.Tensor | None) -> None:
        self._lengths = value
        self.generation += 1

    def active(self) -> bool:
        return self.lengths is not None

    def _generation(self) -> int:
        return self.generation

    def stride_for(self, steps_here: int) -> int:
        """Cumulative temporal stride between the SGS output (``steps``) and a map of ``steps_here``.

        Temporal strides after SGS in the registered backbones are all 2 with "same" padding
        (R(2+1)D, CSN, the C2D/I3D pool), each mapping a length L to ceil(L / 2). The number of
        halvings is unique whenever ``steps_here`` > 1 (a ratio such as 5 / 2 is not: it is one
        halving, not a stride of 2.5). Other strides need a mask of their own
        (:class:`StridedTemporalMask`).
        """
        stride, length = 1, self.steps
        while length > steps_here:
            length, stride = -(-length // 2), stride * 2
        if length != steps_here:
            raise ValueError(
                f"cannot map {self.steps} valid steps at the SGS output onto a feature map with "
                f"{steps_here} temporal steps by stride-2 halvings; masked execution supports only "
                "stride-2 temporal downsampling after SGS"
            )
        return stride

    def lengths_for(self, steps_here: int) -> torch.Tensor:
        """(N,) valid lengths on a feature map with ``steps_here`` temporal steps."""
        stride = self.stride_for(steps_here)
        return torch.div(self.lengths + stride - 1, stride, rounding_mode="floor")

    def _cached(self, key: tuple, make):
        # Every masked layer of a pass asks for the same few masks and lengths: compute each once
        # per batch (the cache empties whenever the lengths change).
        if self._masks_generation != self._generation():
            self._masks, self._masks_generation = {}, self._generation()
        if key not in self._masks:
            self._masks[key] = make()
        return self._masks[key]

    def length_list_for(self, steps_here: int) -> list[int]:
        """:meth:`lengths_for` as Python ints (cached per batch, like the masks)."""
        return self._cached(("lengths", steps_here), lambda: self.lengths_for(steps_here).tolist())

    def mask_for(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, T, 1, 1) float mask of valid slices for a feature map x (N, C, T, H, W)."""

        def make() -> torch.Tensor:
            lengths = self.lengths_for(x.shape[2]).to(x.device)
            valid = torch.arange(x.shape[2], device=x.device).view(1, -1) < lengths.view(-1, 1)
            return valid.to(x.dtype).view(x.shape[0], 1, -1, 1, 1)

        return self._cached((x.shape[0], x.shape[2], x.dtype, x.device), make)


class StridedTemporalMask(TemporalMask):
    """The valid lengths of ``parent`` after one known temporal stride (ceil(L / stride)).

    Used where a stride is not a halving, e.g. SlowFast's fast-to-slow lateral convolution
    (stride alpha = 4 or 8).
    """

    def __init__(self, *, parent: TemporalMask, stride: int) -> None:
        super().__init__()
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.parent = parent
        self.stride = stride

    def active(self) -> bool:
        return self.parent.active()

    def _generation(self) -> int:
        return self.parent.generation

    def lengths_for(self, steps_here: int) -> torch.Tensor:
        return torch.div(self.parent.lengths + self.stride - 1, self.stride, rounding_mode="floor")

    def packed_state(self) -> PackedLengths | None:
        return self.parent.packed


class MaskAware:
    """Marks a layer that reads ``temporal_mask`` (set by :func:`attach_temporal_mask`)."""

    temporal_mask: TemporalMask


class MaskedBatchNorm3d(nn.BatchNorm3d, MaskAware):
    """BatchNorm3d whose statistics and output ignore padded temporal slices."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask_state = self.temporal_mask
        if mask_state.packed_state() is not None:
            if self.training:
                raise RuntimeError("packed execution is for evaluation; training runs masked")
            return super().forward(x)  # rows hold valid slices only
        if not mask_state.active():
            return super().forward(x)
        mask = mask_state.mask_for(x)  # (N, 1, T, 1, 1)
        if not self.training and self.track_running_stats:
            # Evaluation: per-channel affine with fixed statistics, so only the padding needs care.
            return super().forward(x) * mask
        count = mask.sum() * x.shape[3] * x.shape[4]
        dims = (0, 2, 3, 4)
        mean = (x * mask).sum(dims) / count
        centred = (x - mean.view(1, -1, 1, 1, 1)) * mask
        var = centred.square().sum(dims) / count
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                unbiased = var * count / max(float(count) - 1, 1.0)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean)
                self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
        shape = (1, -1, 1, 1, 1)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y * mask


class MaskedSqueezeExcitation(SqueezeExcitation, MaskAware):
    """fvcore's 3-D squeeze-excitation with the squeeze averaged over valid slices only."""

    def forward(self, input_tensor: torch.Tensor) -> torch.Tensor:
        mask_state = self.temporal_mask
        packed = mask_state.packed_state()
        if packed is not None:
            squeezed = segment_mean(input_tensor, packed).mean(dim=(2, 3, 4), keepdim=True)  # (N, C, 1, 1, 1)
            return input_tensor * rows_of_clips(input_tensor, self.block(squeezed), packed)
        if not mask_state.active():
            return super().forward(input_tensor)
        mask = mask_state.mask_for(input_tensor)
        valid = mask.sum(dim=2, keepdim=True) * input_tensor.shape[3] * input_tensor.shape[4]
        # Sum space first: the mask then multiplies (N, C, T), not the whole feature map.
        per_slice = input_tensor.sum(dim=(3, 4), keepdim=True)
        squeezed = (per_slice * mask).sum(dim=2, keepdim=True) / valid
        return input_tensor * self.block(squeezed)


class _ReadsAcrossTime(MaskAware):
    """A layer that combines or skips slices: packed, it runs per clip on the rows; masked, it
    zeroes its input's padding when asked.

    ``zero_input_padding`` is False for a trainable network (the batch norm before it already
    zeroes the padding) and True once batch norm is folded away for inference.
    """

    zero_input_padding = False

    def packed_forward(self, x: torch.Tensor, packed: PackedLengths) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self.temporal_mask.packed_state()
        if packed is not None:
            return self.packed_forward(x, packed)
        if self.zero_input_padding and self.temporal_mask.active():
            if torch.is_grad_enabled():  # autograd may hold x for a backward: a new tensor
                x = x * self.temporal_mask.mask_for(x)
            else:
                zero_padding_(x, self.temporal_mask)
        return super().forward(x)


class MaskedTemporalConv3d(_ReadsAcrossTime, nn.Conv3d):
    """A Conv3d with a temporal kernel or stride > 1 (packed: :func:`packed_conv3d`)."""

    def packed_forward(self, x: torch.Tensor, packed: PackedLengths) -> torch.Tensor:
        return packed_conv3d(self, x, packed)


class MaskedTemporalMaxPool3d(_ReadsAcrossTime, nn.MaxPool3d):
    """A MaxPool3d with a temporal kernel or stride > 1 (packed: :func:`packed_max_pool3d`)."""

    def packed_forward(self, x: torch.Tensor, packed: PackedLengths) -> torch.Tensor:
        return packed_max_pool3d(self, x, packed)


def zero_padding_(x: torch.Tensor, mask_state: TemporalMask) -> None:
    """Zero the padded slices of ``x`` (N, C, T, H, W) in place.

    Safe on any tensor inside a masked pass: what the padding holds is never read (layers that
    read across time zero it first, pointwise layers never mix slices, means skip it), so no
    other layer's result changes. On a CPU only the padded slice ranges are written; elsewhere
    one in-place multiply avoids a launch per clip.
    """
    steps = x.shape[2]
    if x.device.type != "cpu":
        x.mul_(mask_state.mask_for(x))
        return
    for clip, length in enumerate(mask_state.length_list_for(steps)):
        if length < steps:
            x[clip, :, length:].zero_()


def _reads_across_time(module: nn.Module) -> bool:
    """A temporal kernel or stride above 1: the layer combines or skips slices."""
    kernel, stride = module.kernel_size, module.stride if module.stride is not None else module.kernel_size
    kernel, stride = (v[0] if isinstance(v, tuple) else v for v in (kernel, stride))
    return kernel > 1 or stride > 1


def masked_temporal_mean(x: torch.Tensor, mask_state: TemporalMask | None) -> torch.Tensor:
    """Mean over T (keepdim), over valid slices only when a mask is active (packed: per clip's rows)."""
    if mask_state is not None and mask_state.packed_state() is not None:
        return segment_mean(x, mask_state.packed_state())
    if mask_state is None or not mask_state.active():
        return x.mean(dim=2, keepdim=True)
    mask = mask_state.mask_for(x)
    return (x * mask).sum(dim=2, keepdim=True) / mask.sum(dim=2, keepdim=True)


def attach_temporal_mask(module: nn.Module, mask_state: TemporalMask) -> int:
    """Make every supported layer in ``module`` mask-aware (in place; state dict unchanged).

    Returns the number of layers made mask-aware.
    """
    count = 0
    for child in module.modules():
        if type(child) is nn.BatchNorm3d:
            child.__class__ = MaskedBatchNorm3d
        elif type(child) is SqueezeExcitation and child.is_3d:
            child.__class__ = MaskedSqueezeExcitation
        elif type(child) is nn.Conv3d and _reads_across_time(child):
            child.__class__ = MaskedTemporalConv3d
        elif type(child) is nn.MaxPool3d and _reads_across_time(child):
            child.__class__ = MaskedTemporalMaxPool3d
        elif not isinstance(child, MaskAware):
            continue
        child.temporal_mask = mask_state
        count += 1
    return count
