"""Map-style dataset of clips with an explicit (video, clip, crop) index.

Item ``i`` is view ``i % views_per_video`` of video ``i // views_per_video``, and a view is
temporal clip ``view // num_crops``, spatial crop ``view % num_crops``. So ``len()`` is known
before any video is opened, Lightning's distributed sampler shards it exactly, and a test
prediction can be put back with its video.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial

import torch
from torch.utils.data import Dataset, default_collate

from atfr_lightning.data.readers.annotations import VideoRecord
from atfr_lightning.data.video.decoding import check_decoder, read_all_frames, read_frames
from atfr_lightning.data.video.temporal_sampling import (
    MODES,
    TEMPORAL_SAMPLINGS,
    Mode,
    TemporalSampling,
    clip_frame_indices,
    item_generator,
)
from atfr_lightning.data.video.transforms import VideoTransform, uint8_to_float

# What a sampler may hand to __getitem__: a plain index, or (epoch, index) from EpochShuffleSampler.
ItemIndex = int | tuple[int, int]


class VideoDecodeWarning(UserWarning):
    """A video could not be read and another one was used in its place."""


class ClipDataset(Dataset):
    """Clips of annotated videos, one item per (video, clip, crop) view.

    Each item is::

        {"video": (C, num_frames, H', W') float32 after ``transform``,
         "label": int, 0-based,
         "video_index": int, position in ``records`` of the video actually read,
         "view_index": int, clip_index * num_crops + crop_index (0 outside test),
         "decode_failures": list[int], videos found unreadable while making this item}

    Use :func:`collate_clips` as the DataLoader's ``collate_fn`` (it turns
    ``decode_failures`` into a padded tensor).

    A missing, truncated or undecodable video is replaced by the next readable one in
    ``records`` order (epoch length unchanged), warned about once per process
    (:class:`VideoDecodeWarning`), never retried, and listed in the item's
    ``decode_failures`` every time it is skipped, so that per-epoch reports see it even
    from DataLoader worker processes.

    Randomness (training only) comes from a generator seeded by ``(seed, epoch, index)``:
    an item is the same whatever worker loads it. The epoch comes with the index from
    :class:`atfr_lightning.data.video.samplers.EpochShuffleSampler`, else from :meth:`set_epoch`.

    Args:
        records: The videos and their 0-based labels.
        mode: ``"train"`` (random clip), ``"val"`` (centre clip) or ``"test"``
            (``num_clips x num_crops`` views per video).
        num_frames: Frames per clip, ``T``.
        sampling_rate: Spacing of the frames in the source (``"window"`` sampling).
        temporal_sampling: ``"window"`` or ``"segments"`` (see ``atfr_lightning.data.video.temporal_sampling``).
        num_clips: Temporal views per video in test mode (1 otherwise).
        num_crops: Spatial views per video in test mode (1 otherwise); passed to
            ``transform`` as ``num_crops``, with ``crop_index``.
        transform: Called as ``transform(clip, generator=..., crop_index=..., num_crops=...)``
            on the ``(C, T, H, W)`` float clip in ``[0, 1]``; e.g. a
            :class:`atfr_lightning.data.video.transforms.Compose`.
        decoder: See ``atfr_lightning.data.video.decoding``.
        seed: Seed of the training randomness.
        cache_decoded: Keep every decoded video in memory (per worker), for small sets.
        replace_unreadable: ``True`` (training and evaluation): an unreadable video is replaced by
            the next readable one. ``False`` (prediction on a folder): the item keeps its video,
            its clip is zeros and ``"error"`` says why, so every file gets its own answer.
    """

    def __init__(
        self,
        *,
        records: Sequence[VideoRecord],
        mode: Mode,
        num_frames: int,
        sampling_rate: int = 1,
        temporal_sampling: TemporalSampling = "window",
        num_clips: int = 1,
        num_crops: int = 1,
        transform: VideoTransform | None = None,
        decoder: str = "pyav",
        seed: int = 0,
        cache_decoded: bool = False,
        replace_unreadable: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is invalid: expected one of {MODES}")
        if temporal_sampling not in TEMPORAL_SAMPLINGS:
            raise ValueError(
                f"temporal_sampling={temporal_sampling!r} is invalid: expected one of {TEMPORAL_SAMPLINGS}"
            )
        for name, value in (("num_frames", num_frames), ("sampling_rate", sampling_rate)):
            if value < 1:
                raise ValueError(f"{name}={value} is invalid: expected an integer >= 1")
        if mode != "test" and (num_clips, num_crops) != (1, 1):
            raise ValueError(f"{mode} mode takes one view per video, got num_clips={num_clips}, num_crops={num_crops}")
        if num_clips < 1 or num_crops < 1:
            raise ValueError(f"num_clips and num_crops must be >= 1, got {num_clips} and {num_crops}")
        if not records:
            raise ValueError("records is empty: a dataset needs at least one video")
        check_decoder(decoder)
        self.records = list(records)
        self.mode = mode
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.temporal_sampling = temporal_sampling
        self.num_clips = num_clips
        self.num_crops = num_crops
        self.transform = transform
        self.decoder = decoder
        self.seed = seed
        self.cache_decoded = cache_decoded
        self.replace_unreadable = replace_unreadable
        self.epoch = 0
        self.failures: list[VideoRecord] = []
        self._failed: set[int] = set()
        self._cache: dict[int, torch.Tensor] = {}

    @property
    def num_videos(self) -> int:
        """Number of videos (``len(records)``)."""
        return len(self.records)

    @property
    def views_per_video(self) -> int:
        """``num_clips * num_crops``."""
        return self.num_clips * self.num_crops

    def __len__(self) -> int:
        return self.num_videos * self.views_per_video

    def set_epoch(self, epoch: int) -> None:
        """Epoch used for plain integer indices (samplers that do not pass one)."""
        self.epoch = epoch

    def locate(self, index: int) -> tuple[int, int, int]:
        """Item index -> ``(video_index, clip_index, crop_index)``."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        video_index, view = divmod(index, self.views_per_video)
        clip_index, crop_index = divmod(view, self.num_crops)
        return video_index, clip_index, crop_index

    def _select(self, clip_index: int, generator: torch.Generator | None):
        return partial(
            _frame_indices,
            num_frames=self.num_frames,
            sampling_rate=self.sampling_rate,
            temporal_sampling=self.temporal_sampling,
            mode=self.mode,
            clip_index=clip_index,
            num_clips=self.num_clips,
            generator=generator,
        )

    def _read(self, video_index: int, clip_index: int, generator: torch.Generator | None) -> torch.Tensor:
        """``(T, H, W, 3)`` uint8 frames of one clip; raises if the video cannot be read."""
        select = self._select(clip_index, generator)
        path = self.records[video_index].path
        # Test views of one video come one after another: decode it once, not num_clips times.
        keep_whole = self.cache_decoded or self.views_per_video > 1
        if not keep_whole:
            return read_frames(path, select, decoder=self.decoder)
        frames = self._cache.get(video_index)
        if frames is None:
            frames = read_all_frames(path, decoder=self.decoder)
            if not self.cache_decoded:
                self._cache.clear()
            self._cache[video_index] = frames
        return frames[select(frames.shape[0])]

    def _load(
        self, video_index: int, clip_index: int, generator: torch.Generator | None, failures: list[int]
    ) -> tuple[int, torch.Tensor]:
        for offset in range(self.num_videos):
            candidate = (video_index + offset) % self.num_videos
            if candidate in self._failed:
                failures.append(candidate)
                continue
            try:
                return candidate, self._read(candidate, clip_index, generator)
            except Exception as error:  # noqa: BLE001 - decoders raise many types; all mean "unreadable"
                self._failed.add(candidate)
                self.failures.append(self.records[candidate])
                failures.append(candidate)
                warnings.warn(
                    f"skipping unreadable video {self.records[candidate].path} "
                    f"({type(error).__name__}: {error}); using the next video in the list instead",
                    VideoDecodeWarning,
                    stacklevel=3,
                )
        raise RuntimeError(
            f"none of the {self.num_videos} videos could be read; first failures: "
            f"{[str(r.path) for r in self.failures[:5]]}"
        )

    def __getitem__(self, item: ItemIndex) -> dict[str, object]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        video_index, clip_index, crop_index = self.locate(index)
        generator = item_generator(seed=self.seed, epoch=epoch, index=index) if self.mode == "train" else None
        failures: list[int] = []
        error = ""
        if self.replace_unreadable:
            used_index, frames = self._load(video_index, clip_index, generator, failures)
        else:
            used_index = video_index
            try:
                frames = self._read(video_index, clip_index, generator)
            except Exception as exc:  # noqa: BLE001 - decoders raise many types; all mean "unreadable"
                error = f"unreadable video ({type(exc).__name__}: {exc})"
                # A black clip through the same transforms keeps the batch's shape; "error" marks it.
                frames = torch.zeros((self.num_frames, 16, 16, 3), dtype=torch.uint8)
        clip = uint8_to_float(frames)  # (T, H, W, C) uint8 -> (C, T, H, W) float in [0, 1]
        if self.transform is not None:
            clip = self.transform(clip, generator=generator, crop_index=crop_index, num_crops=self.num_crops)
        item = {
            "video": clip,
            "label": self.records[used_index].label,
            "video_index": used_index,
            "view_index": clip_index * self.num_crops + crop_index,
            "decode_failures": failures,
        }
        if not self.replace_unreadable:
            item["error"] = error
        return item


def _frame_indices(num_source_frames: int, **kwargs: object) -> torch.Tensor:
    return clip_frame_indices(num_source_frames=num_source_frames, **kwargs)


def collate_clips(items: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    """Collate :class:`ClipDataset` items; ``decode_failures`` becomes an ``(N, F)`` tensor.

    Shapes: ``video (N, C, T, H, W)``, ``label / video_index / view_index (N,)``,
    ``decode_failures (N, F)`` int64: row ``i`` lists the videos skipped while making item
    ``i``, padded with -1, ``F`` the largest such count in the batch (usually 0). Every
    tensor's first dimension is N, so Lightning infers the batch size unambiguously.
    """
    failures = [list(item["decode_failures"]) for item in items]
    width = max(len(row) for row in failures)
    padded = torch.full((len(items), width), -1, dtype=torch.int64)
    for row, indices in enumerate(failures):
        padded[row, : len(indices)] = torch.tensor(indices, dtype=torch.int64)
    batch = default_collate([{k: v for k, v in item.items() if k != "decode_failures"} for item in items])
    batch["decode_failures"] = padded
    return batch
