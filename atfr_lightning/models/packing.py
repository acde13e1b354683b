"""Packed execution: the layers after SGS run on every clip's valid slices only, in one pass.

After SGS, clip n keeps B'_n temporal slices. Packing lays the valid slices of the whole batch
out as rows of one tensor, ``(N, C, B'max, H, W) -> (R, C, 1, H, W)`` with R = sum of B'_n, so
one pass does exactly the valid work: no padding (unlike masked or bucketed execution) and one
pass per batch (unlike grouped execution, one per distinct B').

Layers that treat every slice on its own (convolutions without a temporal extent, batch norm in
evaluation, activations) run on the rows unchanged. The few that read across time gather what
they read by index, within each clip, with zeros (max pool: -inf) past its ends, exactly what
the clip alone at its own length gives them:

* a temporal convolution with kernel k, stride s and padding p gathers the k slices each output
  slice reads (:func:`packed_conv3d`) and runs on them; temporal max pools take the max over
  the gathered slices;
* squeeze-excitation and global pools average each clip's rows (:func:`segment_mean`).

Every row count met in a pass maps to the per-clip lengths it holds (:class:`PackedLengths`):
temporal strides register their output lengths as they run, so later layers find theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pack(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, C, T, H, W) with ``lengths`` (N,) valid slices -> (R, C, 1, H, W), clip-major rows."""
    valid = torch.arange(x.shape[2], device=x.device).view(1, -1) < lengths.to(x.device).view(-1, 1)
    return x.transpose(1, 2)[valid].unsqueeze(2)


def unpack(rows: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(R, C, 1, H, W) -> (N, C, steps, H, W), zero past each clip's length (inverse of :func:`pack`)."""
    valid = torch.arange(steps, device=rows.device).view(1, -1) < lengths.to(rows.device).view(-1, 1)
    dense = rows.new_zeros(len(lengths), steps, *rows.shape[1:2], *rows.shape[3:])
    dense[valid] = rows.squeeze(2)
    return dense.transpose(1, 2)


def temporal_output_lengths(
    lengths: torch.Tensor, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False
) -> torch.Tensor:
    """Per-clip output lengths of a temporal window (PyTorch's convolution and pooling rule)."""
    span = lengths + 2 * padding - kernel
    if not ceil_mode:
        return torch.div(span, stride, rounding_mode="floor") + 1
    out = torch.div(span + stride - 1, stride, rounding_mode="floor") + 1
    # Pooling in ceil mode drops a last window that would start in the right padding.
    return out - ((out - 1) * stride >= lengths + padding).long()


def tap_rows(
    lengths: torch.Tensor, out_lengths: torch.Tensor, *, kernel: int, stride: int, padding: int
) -> torch.Tensor:
    """(R_out, kernel) input row of every tap of every output row; R_in (a fill row) outside a clip."""
    device = lengths.device
    rows_in = int(lengths.sum())
    first_in = torch.cumsum(lengths, 0) - lengths
    first_out = torch.cumsum(out_lengths, 0) - out_lengths
    clip = torch.repeat_interleave(torch.arange(len(lengths), device=device), out_lengths)
    j = torch.arange(int(out_lengths.sum()), device=device) - first_out[clip]
    t = stride * j.view(-1, 1) + torch.arange(kernel, device=device).view(1, -1) - padding
    inside = (t >= 0) & (t < lengths[clip].view(-1, 1))
    return torch.where(inside, first_in[clip].view(-1, 1) + t, torch.full_like(t, rows_in))


class PackedLengths:
    """The per-clip lengths of every packed tensor of one pass, found by its row count.

    Two tensors of one pass with the same row count hold the same lengths: a temporal stride
    shortens some clip unless every clip already has at most one slice, and then nothing changes.
    """

    def __init__(self, lengths: torch.Tensor) -> None:
        self.by_rows: dict[int, torch.Tensor] = {}
        self.cache: dict[tuple, torch.Tensor] = {}
        self.register(lengths)

    def register(self, lengths: torch.Tensor) -> None:
        self.by_rows[int(lengths.sum())] = lengths

    def of(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[0]
        if rows not in self.by_rows:
            raise RuntimeError(
                f"packed execution met a tensor of {rows} rows, but this pass only made rows "
                f"{sorted(self.by_rows)}; a layer between SGS and it changed the rows unexpectedly"
            )
        return self.by_rows[rows]

    def taps(self, lengths: torch.Tensor, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """(output lengths, flat tap index), computed once per pass and window."""
        key = (int(lengths.sum()), kernel, stride, padding, ceil_mode)
        if key not in self.cache:
            out = temporal_output_lengths(lengths, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
            self.cache[key] = (out, tap_rows(lengths, out, kernel=kernel, stride=stride, padding=padding).reshape(-1))
        out, index = self.cache[key]
        self.register(out)
        return out, index


def _gather(x: torch.Tensor, index: torch.Tensor, kernel: int, fill: float) -> torch.Tensor:
    """(R_in, C, 1, H, W) -> (R_out, kernel, C, H, W) taps, ``fill`` outside a clip."""
    padded = torch.cat([x, x.new_full((1, *x.shape[1:]), fill)])
    taps = padded.index_select(0, index)
    return taps.view(-1, kernel, x.shape[1], *x.shape[3:])


def packed_conv3d(conv: nn.Conv3d, x: torch.Tensor, state: PackedLengths) -> torch.Tensor:
    """``conv`` on packed rows: each output row reads only its own clip's rows (zeros past its ends)."""
    kernel, stride, padding = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    if conv.dilation[0] != 1 or conv.padding_mode != "zeros" or hasattr(conv, "temporal_replicate_padding"):
        raise ValueError(
            "packed execution supports temporal convolutions with zero padding and no temporal dilation, "
            f"got dilation={conv.dilation}, padding_mode={conv.padding_mode!r}"
        )
    if conv.groups == 1:
        _, index = state.taps(state.of(x), kernel=kernel, stride=stride, padding=padding)
        taps = _gather(x, index, kernel, 0.0)  # (R, k, C, H, W)
        # The k taps side by side in the channel axis, one convolution without temporal extent
        # on weights laid out to match: one large matrix product on a CPU.
        inputs = taps.view(taps.shape[0], kernel * x.shape[1], 1, *taps.shape[3:])
        return F.conv3d(inputs, _tap_weight(conv), conv.bias, (1, *conv.stride[1:]), (0, *conv.padding[1:]),
                        (1, *conv.dilation[1:]))
    # Grouped and depthwise (cheap per slice, so copies dominate): back to zero-padded clips,
    # the layer as it is, and the valid output slices packed again.
    lengths = state.of(x)
    out_lengths, _ = state.taps(lengths, kernel=kernel, stride=stride, padding=padding)
    dense = conv._conv_forward(unpack(x, lengths, int(lengths.max())), conv.weight, conv.bias)
    return pack(dense, out_lengths)


def _tap_weight(conv: nn.Conv3d) -> torch.Tensor:
    """(O, C, k, kh, kw) -> (O, k * C, 1, kh, kw), taps outer; cached while the weight is unchanged."""
    if torch.is_grad_enabled() and conv.weight.requires_grad:  # keep gradients to the weights
        w = conv.weight
        return w.permute(0, 2, 1, 3, 4).reshape(w.shape[0], -1, 1, *w.shape[3:])
    # Weights made under inference_mode (Lightning's predict folds its copy there) have no
    # version counter; they cannot change outside inference_mode, so their storage is the key.
    version = None if conv.weight.is_inference() else conv.weight._version
    key = (conv.weight.data_ptr(), version)
    cached = getattr(conv, "_tap_weight_cache", None)
    if cached is None or cached[0] != key:
        w = conv.weight.detach()
        cached = (key, w.permute(0, 2, 1, 3, 4).reshape(w.shape[0], -1, 1, *w.shape[3:]).contiguous())
        conv._tap_weight_cache = cached
    return cached[1]


def packed_max_pool3d(pool: nn.MaxPool3d, x: torch.Tensor, state: PackedLengths) -> torch.Tensor:
    """A temporal max pool on packed rows (windows within each clip), then its spatial part."""
    kernel, stride, padding, dilation = (_triple(v) for v in (pool.kernel_size, pool.stride or pool.kernel_size,
                                                              pool.padding, pool.dilation))
    if dilation[0] != 1:
        raise ValueError(f"packed execution supports temporal max pools without dilation, got {pool.dilation}")
    _, index = state.taps(state.of(x), kernel=kernel[0], stride=stride[0], padding=padding[0],
                          ceil_mode=pool.ceil_mode)
    pooled = _gather(x, index, kernel[0], float("-inf")).amax(dim=1).unsqueeze(2)
    if kernel[1:] == (1, 1) and stride[1:] == (1, 1):
        return pooled
    return F.max_pool3d(pooled, (1, *kernel[1:]), (1, *stride[1:]), (0, *padding[1:]), (1, *dilation[1:]),
                        ceil_mode=pool.ceil_mode)


def segment_mean(x: torch.Tensor, state: PackedLengths) -> torch.Tensor:
    """(R, C, 1, H, W) -> (N, C, 1, H, W): each clip's mean over its rows."""
    lengths = state.of(x)
    clip = torch.repeat_interleave(torch.arange(len(lengths), device=x.device), lengths)
    sums = x.new_zeros(len(lengths), *x.shape[1:]).index_add_(0, clip, x)
    return sums / lengths.to(x.dtype).view(-1, 1, 1, 1, 1)


def rows_of_clips(x: torch.Tensor, per_clip: torch.Tensor, state: PackedLengths) -> torch.Tensor:
    """(N, ...) per-clip values -> (R, ...) one per row of ``x``."""
    lengths = state.of(x)
    return per_clip.repeat_interleave(lengths.to(per_clip.device), dim=0)


def _triple(value) -> tuple[int, int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3
