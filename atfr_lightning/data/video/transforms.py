"""Video transforms in plain torch.

``pytorchvideo.transforms`` needs torchvision, which this project cannot install (see
``atfr_lightning/_pytorchvideo.py``), and a video classifier only needs these few.
Unless said otherwise they take and return float clips shaped ``(C, T, H, W)``.

Horizontal flip is here for datasets whose labels survive it; never use it on direction
labels (the synthetic set's "moving left/right", Something-Something's "left to right").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

# PyTorchVideo's Kinetics statistics, for frames scaled to [0, 1].
KINETICS_MEAN: tuple[float, float, float] = (0.45, 0.45, 0.45)
KINETICS_STD: tuple[float, float, float] = (0.225, 0.225, 0.225)

VideoTransform = Callable[[torch.Tensor], torch.Tensor]


def uniform_temporal_indices(num_frames: int, num_samples: int) -> torch.Tensor:
    """Indices ``round(linspace(0, num_frames - 1, num_samples))`` (int64, shape ``(num_samples,)``).

    Rounds half to even like numpy, so these are exactly the frames the synthetic set's
    ``need`` is defined on. (PyTorchVideo's ``uniform_temporal_subsample`` truncates instead.)
    When ``num_samples > num_frames`` some frames repeat.
    """
    if num_frames < 1 or num_samples < 1:
        raise ValueError(f"need num_frames >= 1 and num_samples >= 1, got {num_frames} and {num_samples}")
    # float64 so that values like 7.5 are exact and round the same way as numpy's.
    return torch.linspace(0, num_frames - 1, num_samples, dtype=torch.float64).round().long()


def uniform_temporal_subsample(video: torch.Tensor, num_samples: int, *, temporal_dim: int = -3) -> torch.Tensor:
    """Keep ``num_samples`` uniformly spaced frames along ``temporal_dim``.

    ``(C, T, H, W) -> (C, num_samples, H, W)`` with the default ``temporal_dim=-3``.
    """
    indices = uniform_temporal_indices(video.shape[temporal_dim], num_samples).to(video.device)
    return video.index_select(temporal_dim, indices)


def uint8_to_float(frames: torch.Tensor) -> torch.Tensor:
    """Decoded frames ``(T, H, W, C)`` uint8 -> ``(C, T, H, W)`` float32 in ``[0, 1]``."""
    if frames.dtype != torch.uint8 or frames.ndim != 4:
        raise ValueError(f"expected (T, H, W, C) uint8 frames, got {tuple(frames.shape)} {frames.dtype}")
    return frames.permute(3, 0, 1, 2).float().div_(255.0)


def short_side_scale(video: torch.Tensor, size: int, *, interpolation: str = "bilinear") -> torch.Tensor:
    """Resize so the shorter spatial side is ``size``, keeping the aspect ratio.

    ``(C, T, H, W) -> (C, T, H', W')`` with ``min(H', W') == size``. Returns the input
    unchanged when it already has that size (no resampling blur).
    """
    _, _, height, width = video.shape
    if min(height, width) == size:
        return video
    if height <= width:
        new_height, new_width = size, max(1, round(width * size / height))
    else:
        new_height, new_width = max(1, round(height * size / width)), size
    # interpolate treats dim 0 as the batch: (C, T, H, W) are resized as T images of C channels.
    resized = F.interpolate(
        video.transpose(0, 1),
        size=(new_height, new_width),
        mode=interpolation,
        align_corners=False if interpolation in ("bilinear", "bicubic") else None,
        antialias=interpolation in ("bilinear", "bicubic"),
    )
    return resized.transpose(0, 1)


def _check_crop(video: torch.Tensor, size: int) -> tuple[int, int]:
    height, width = video.shape[-2:]
    if not 1 <= size <= min(height, width):
        raise ValueError(f"crop size must be in 1..{min(height, width)} for frames of {height}x{width}, got {size}")
    return height, width


def center_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    """Central ``size x size`` window: ``(C, T, H, W) -> (C, T, size, size)``."""
    height, width = _check_crop(video, size)
    top, left = (height - size) // 2, (width - size) // 2
    return video[..., top : top + size, left : left + size]


def random_crop(video: torch.Tensor, size: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random ``size x size`` window, the same for all frames: ``(C, T, H, W) -> (C, T, size, size)``.

    ``generator=None`` draws from torch's global generator, which Lightning's
    ``seed_everything(workers=True)`` and the DataLoader seed in every worker.
    """
    height, width = _check_crop(video, size)
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    return video[..., top : top + size, left : left + size]


def horizontal_flip(video: torch.Tensor) -> torch.Tensor:
    """Mirror left-right: ``(..., H, W) -> (..., H, W)``. Swaps left/right motion labels."""
    return video.flip(-1)


def normalize(video: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` on ``(C, T, H, W)``; ``mean`` and ``std`` have ``C`` entries."""
    channels = video.shape[0]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need {channels} entries, got {len(mean)} and {len(std)}")
    mean_t = torch.as_tensor(mean, dtype=video.dtype, device=video.device).view(-1, 1, 1, 1)
    std_t = torch.as_tensor(std, dtype=video.dtype, device=video.device).view(-1, 1, 1, 1)
    return (video - mean_t) / std_t


def random_short_side_scale(
    video: torch.Tensor, min_size: int, max_size: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Short-side scale to a size drawn uniformly from the integers ``min_size..max_size``.

    The scale jitter of the X3D / SlowFast training recipe (PyTorchVideo's
    ``RandomShortSideScale``): ``(C, T, H, W) -> (C, T, H', W')`` with ``min(H', W')`` drawn.
    """
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
    size = int(torch.randint(min_size, max_size + 1, (1,), generator=generator))
    return short_side_scale(video, size)


def uniform_crop(video: torch.Tensor, size: int, *, crop_index: int, num_crops: int) -> torch.Tensor:
    """Crop ``crop_index`` of ``num_crops`` evenly spaced ``size x size`` test crops.

    The crops slide along the longer side (left / centre / right for landscape frames, top /
    centre / bottom for portrait ones, as in PySlowFast's 3-crop test) and are centred on
    the shorter side; ``num_crops=1`` is the centre crop. ``(C, T, H, W) -> (C, T, size, size)``.
    """
    height, width = _check_crop(video, size)
    if not 0 <= crop_index < num_crops:
        raise ValueError(f"crop_index must be in 0..{num_crops - 1}, got {crop_index}")
    if num_crops == 1:
        return center_crop(video, size)
    # round(linspace(0, L - size, num_crops)) along the long side: first and last crops touch the borders.
    long_offsets = uniform_temporal_indices(max(height, width) - size + 1, num_crops)
    offset = int(long_offsets[crop_index])
    if height > width:
        top, left = offset, (width - size) // 2
    else:
        top, left = (height - size) // 2, offset
    return video[..., top : top + size, left : left + size]


def random_horizontal_flip(
    video: torch.Tensor, probability: float = 0.5, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mirror left-right with ``probability``: ``(C, T, H, W) -> (C, T, H, W)``.

    Only for datasets whose labels do not name a direction (never Something-Something V2).
    """
    if float(torch.rand((), generator=generator)) < probability:
        return horizontal_flip(video)
    return video


class Compose:
    """Apply video transforms in order: ``Compose([f, g])(x) == g(f(x))``.

    Keyword context given to the call (``generator=``, ``crop_index=``, ``num_crops=``) is
    passed on to each step whose signature names that keyword, so random steps draw from
    the caller's generator and test crops know which view they are; other steps get
    only the clip.

    Args:
        transforms: Callables from a ``(C, T, H, W)`` tensor to a tensor.
    """

    def __init__(self, transforms: Sequence[VideoTransform]) -> None:
        self.transforms = list(transforms)
        self._accepted = [_keyword_names(transform) for transform in self.transforms]

    def __call__(self, video: torch.Tensor, **context: Any) -> torch.Tensor:
        for transform, accepted in zip(self.transforms, self._accepted):
            keywords = context if accepted is None else {k: v for k, v in context.items() if k in accepted}
            video = transform(video, **keywords)
        return video

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.transforms!r})"


def _keyword_names(transform: Callable[..., torch.Tensor]) -> frozenset[str] | None:
    """Keywords ``transform`` accepts besides the clip; ``None`` when it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(transform).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature take the clip only
        return frozenset()
    names = set()
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            names.add(parameter.name)
    return frozenset(names)
