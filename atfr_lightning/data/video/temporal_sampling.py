"""Which source frames a clip takes: random in training, centred in validation, spread in test.

Two temporal samplings, as in the X3D / SlowFast recipes of PySlowFast:

* ``"window"`` (Kinetics, UCF101, HMDB51): ``num_frames`` frames spaced ``sampling_rate``
  apart, i.e. a window of ``num_frames * sampling_rate`` source frames, placed at random in
  training, centred in validation, and at ``num_clips`` evenly spaced positions (first at the
  start, last at the end) in test. A video shorter than the window is sampled uniformly over
  its whole length.
* ``"segments"`` (Something-Something V2): the video is cut into ``num_frames`` equal
  segments and one frame is taken from each (TSN-style): a random one in training, the middle
  one in validation, and the frame at ``(clip + 0.5) / num_clips`` of each segment in test.

Every random draw comes from a generator seeded by ``(seed, epoch, index)`` so that a
training item does not depend on the number of workers, the worker that loads it, or on
whether training was resumed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from atfr_lightning.data.video.transforms import uniform_temporal_indices

TemporalSampling = Literal["window", "segments"]
TEMPORAL_SAMPLINGS: tuple[str, ...] = ("window", "segments")
Mode = Literal["train", "val", "test"]
MODES: tuple[str, ...] = ("train", "val", "test")


def item_generator(*, seed: int, epoch: int, index: int) -> torch.Generator:
    """A torch generator seeded from ``(seed, epoch, index)`` (mixed by numpy's SeedSequence).

    SeedSequence mixes the three integers so that neighbouring items and epochs get
    unrelated streams (``seed + epoch + index`` would repeat draws across them).
    """
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def clip_frame_indices(
    *,
    num_source_frames: int,
    num_frames: int,
    sampling_rate: int,
    temporal_sampling: TemporalSampling,
    mode: Mode,
    clip_index: int = 0,
    num_clips: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Source frame indices ``(num_frames,)`` int64 of one clip of a ``num_source_frames`` video.

    ``clip_index`` of ``num_clips`` only matters in test mode; ``generator`` only in training.
    """
    if num_source_frames < 1:
        raise ValueError(f"a video needs at least one frame, got num_source_frames={num_source_frames}")
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index must be in 0..{num_clips - 1}, got {clip_index}")
    if temporal_sampling == "window":
        return _window(num_source_frames, num_frames, sampling_rate, mode, clip_index, num_clips, generator)
    if temporal_sampling == "segments":
        return _segments(num_source_frames, num_frames, mode, clip_index, num_clips, generator)
    raise ValueError(f"temporal_sampling must be one of {TEMPORAL_SAMPLINGS}, got {temporal_sampling!r}")


def _window(
    num_source_frames: int,
    num_frames: int,
    sampling_rate: int,
    mode: Mode,
    clip_index: int,
    num_clips: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    window = num_frames * sampling_rate
    if num_source_frames <= window:
        return uniform_temporal_indices(num_source_frames, num_frames)
    last_start = num_source_frames - window
    if mode == "train":
        start = int(torch.randint(0, last_start + 1, (1,), generator=generator))
    elif mode == "val" or num_clips == 1:
        start = last_start // 2
    else:
        # PySlowFast's test clips: start = last_start * clip / (num_clips - 1), first and last at the ends.
        start = int(uniform_temporal_indices(last_start + 1, num_clips)[clip_index])
    return start + uniform_temporal_indices(window, num_frames)


def _segments(
    num_source_frames: int,
    num_frames: int,
    mode: Mode,
    clip_index: int,
    num_clips: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    # Segment s covers [s * L / T, (s + 1) * L / T); float64 keeps the bounds exact for video lengths.
    bounds = torch.linspace(0, num_source_frames, num_frames + 1, dtype=torch.float64)
    starts, lengths = bounds[:-1], bounds[1:] - bounds[:-1]
    if mode == "train":
        fraction = torch.rand(num_frames, generator=generator, dtype=torch.float64)
    elif mode == "val":
        fraction = torch.full((num_frames,), 0.5, dtype=torch.float64)
    else:
        fraction = torch.full((num_frames,), (clip_index + 0.5) / num_clips, dtype=torch.float64)
    return (starts + fraction * lengths).floor().long().clamp_(0, num_source_frames - 1)
