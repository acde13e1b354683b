"""One clear error at the network boundary for a clip the backbone cannot take."""

from __future__ import annotations

import math

import torch

# Every registered backbone halves H and W five times, and its head pools ceil(crop_size / 32)
# feature cells (models/backbones.py): a clip needs at least that many cells after stride 32.
SPATIAL_STRIDE = 32


class ClipShapeError(ValueError):
    """A clip of the wrong rank, channels, dtype or size; the message names what is expected."""


def min_spatial_size(crop_size: int) -> int:
    """The smallest H = W whose features after stride 32 cover the head's pool of ``crop_size``."""
    return SPATIAL_STRIDE * (math.ceil(crop_size / SPATIAL_STRIDE) - 1) + 1


def check_clip(
    x: object, *, backbone: str, crop_size: int, min_frames: int = 1, frame_multiple: int = 1
) -> None:
    """Raise :class:`ClipShapeError` unless ``x`` is a float ``(N, 3, T, H, W)`` tensor this network takes.

    Args:
        backbone: named in the message.
        crop_size: the H = W the network's head was built for (larger clips are fine).
        min_frames: the smallest T; ``frame_multiple``: T must be a multiple of it (SlowFast: alpha).
    """
    min_size = min_spatial_size(crop_size)
    expected = (
        f"{backbone} expects clips as a float tensor of shape (N, 3, T, H, W) with T >= {min_frames}"
        + (f" and a multiple of {frame_multiple}" if frame_multiple > 1 else "")
        + f", H and W >= {min_size} (its head is sized for crop_size={crop_size})"
    )
    if not isinstance(x, torch.Tensor):
        raise ClipShapeError(f"{expected}; got a {type(x).__name__}")
    if x.dim() != 5:
        hint = " (one clip? add the batch dimension: clip[None])" if x.dim() == 4 else ""
        raise ClipShapeError(f"{expected}; got a {x.dim()}-D tensor of shape {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise ClipShapeError(
            f"{expected}; got dtype {x.dtype} (decoded uint8 frames need the datamodule's transforms: "
            "float, scaled and normalised)"
        )
    n, channels, frames, height, width = x.shape
    if channels != 3:
        layout = " (channels last? permute to (N, 3, T, H, W))" if x.shape[-1] == 3 or x.shape[2] == 3 else ""
        raise ClipShapeError(f"{expected}; got {channels} channels in shape {tuple(x.shape)}{layout}")
    if frames < min_frames or frames % frame_multiple:
        raise ClipShapeError(f"{expected}; got T = {frames} in shape {tuple(x.shape)}")
    if height < min_size or width < min_size:
        raise ClipShapeError(f"{expected}; got H x W = {height} x {width} in shape {tuple(x.shape)}")
