"""Clip sampling, transforms, test crops, the epoch sampler, seeded items and the decoders, against references from the spec."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from test_datasets_helpers import read_identity, write_frame_folder, write_video
from torch.utils.data import DataLoader

from atfr_lightning.data import ClipDataset, EpochShuffleSampler, VideoRecord, collate_clips, read_frames
from atfr_lightning.data.video import transforms as T
from atfr_lightning.data.video.decoding import decode_video
from atfr_lightning.data.video.temporal_sampling import clip_frame_indices
from atfr_lightning.data.video.transforms import Compose, random_crop, random_short_side_scale, uniform_crop


def _window_reference(length: int, frames: int, rate: int, start: int) -> list[int]:
    window = frames * rate
    if length <= window:
        return [round(x) for x in np.linspace(0, length - 1, frames)]
    return [start + round(x) for x in np.linspace(0, window - 1, frames)]


@pytest.mark.parametrize(("length", "frames", "rate"), [(300, 13, 6), (100, 8, 8), (40, 16, 4), (7, 4, 1)])
def test_window_sampling(length: int, frames: int, rate: int) -> None:
    common = {"num_source_frames": length, "num_frames": frames, "sampling_rate": rate, "temporal_sampling": "window"}
    last_start = max(length - frames * rate, 0)
    assert clip_frame_indices(**common, mode="val").tolist() == _window_reference(length, frames, rate, last_start // 2)
    # Test clip c of n starts at round(c * last_start / (n - 1)): first at 0, last at the end.
    for clip in range(10):
        expected = _window_reference(length, frames, rate, round(clip * last_start / 9))
        assert clip_frame_indices(**common, mode="test", clip_index=clip, num_clips=10).tolist() == expected
    starts = set()
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        indices = clip_frame_indices(**common, mode="train", generator=generator).tolist()
        start = indices[0]
        assert indices == _window_reference(length, frames, rate, start) and 0 <= start <= last_start
        starts.add(start)
    assert len(starts) >= min(last_start + 1, 30)  # the start really is drawn


@pytest.mark.parametrize(("length", "frames"), [(12, 4), (45, 8), (5, 8)])
def test_segment_sampling(length: int, frames: int) -> None:
    common = {"num_source_frames": length, "num_frames": frames, "sampling_rate": 1, "temporal_sampling": "segments"}
    bounds = [(s * length / frames, (s + 1) * length / frames) for s in range(frames)]
    middle = [min(math.floor(lo + 0.5 * (hi - lo)), length - 1) for lo, hi in bounds]
    assert clip_frame_indices(**common, mode="val").tolist() == middle
    third = [min(math.floor(lo + (1 + 0.5) / 3 * (hi - lo)), length - 1) for lo, hi in bounds]
    assert clip_frame_indices(**common, mode="test", clip_index=1, num_clips=3).tolist() == third
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        indices = clip_frame_indices(**common, mode="train", generator=generator).tolist()
        assert all(math.floor(lo) <= i <= min(math.ceil(hi) - 1, length - 1) for i, (lo, hi) in zip(indices, bounds))


def test_uniform_crop_positions_and_scale_jitter() -> None:
    landscape = torch.rand(3, 2, 10, 16)
    crops = [uniform_crop(landscape, 10, crop_index=i, num_crops=3) for i in range(3)]
    for crop, left in zip(crops, (0, 3, 6)):  # left, centre, right along the long side
        torch.testing.assert_close(crop, landscape[..., :, left : left + 10])
    portrait = landscape.transpose(2, 3)
    for i, top in enumerate((0, 4, 8)):
        torch.testing.assert_close(
            uniform_crop(portrait, 8, crop_index=i, num_crops=3), portrait[..., top : top + 8, 1:9]
        )
    torch.testing.assert_close(uniform_crop(landscape, 8, crop_index=0, num_crops=1), landscape[..., 1:9, 4:12])
    with pytest.raises(ValueError, match="crop_index must be in 0..2, got 3"):
        uniform_crop(landscape, 8, crop_index=3, num_crops=3)

    generator = torch.Generator().manual_seed(0)
    sizes = {min(random_short_side_scale(landscape, 6, 9, generator=generator).shape[-2:]) for _ in range(60)}
    assert sizes == {6, 7, 8, 9}


def test_compose_passes_context_only_to_steps_that_take_it() -> None:
    calls = []

    def plain(video: torch.Tensor) -> torch.Tensor:
        calls.append("plain")
        return video

    pipeline = Compose([plain, partial(random_crop, size=4), partial(uniform_crop, size=4)])
    video = torch.rand(3, 2, 8, 8)
    out = pipeline(video, generator=torch.Generator().manual_seed(1), crop_index=2, num_crops=3)
    assert calls == ["plain"] and out.shape == (3, 2, 4, 4)
    assert Compose([plain])(video) is video  # the old one-argument call still works


def test_transforms_against_reference() -> None:
    frames = torch.randint(0, 256, (5, 12, 20, 3), dtype=torch.uint8)  # (T, H, W, C)
    video = T.uint8_to_float(frames)
    assert video.shape == (3, 5, 12, 20)
    torch.testing.assert_close(video[1, 2], frames[2, :, :, 1].float() / 255)

    # Uniform temporal indices follow numpy's round(linspace) (half to even): the `need` rule.
    for num_frames, num_samples in [(16, 3), (16, 5), (16, 11), (7, 7), (4, 9)]:
        expected = np.round(np.linspace(0, num_frames - 1, num_samples)).astype(int).tolist()
        assert T.uniform_temporal_indices(num_frames, num_samples).tolist() == expected
    torch.testing.assert_close(T.uniform_temporal_subsample(video, 3), video[:, [0, 2, 4]])

    scaled = T.short_side_scale(video, 6)
    assert scaled.shape == (3, 5, 6, 10)
    reference = torch.nn.functional.interpolate(video[:, 3][None], size=(6, 10), mode="bilinear", antialias=True)[0]
    torch.testing.assert_close(scaled[:, 3], reference)
    assert T.short_side_scale(video, 12) is video  # already the right size: untouched
    assert T.short_side_scale(video.transpose(2, 3), 6).shape == (3, 5, 10, 6)

    torch.testing.assert_close(T.center_crop(video, 8), video[..., 2:10, 6:14])
    generator = torch.Generator().manual_seed(0)
    crop = T.random_crop(video, 8, generator=generator)
    matches = [
        (top, left)
        for top in range(12 - 8 + 1)
        for left in range(20 - 8 + 1)
        if torch.equal(crop, video[..., top : top + 8, left : left + 8])
    ]
    assert len(matches) == 1
    assert torch.equal(crop, T.random_crop(video, 8, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="crop size must be in 1..12"):
        T.center_crop(video, 13)

    torch.testing.assert_close(T.horizontal_flip(video)[..., 0], video[..., -1])
    normalized = T.normalize(video, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))
    torch.testing.assert_close(normalized[2], (video[2] - 0.3) / 2.0)
    with pytest.raises(ValueError, match="mean and std need 3 entries"):
        T.normalize(video, mean=(0.5,), std=(0.5,))
    pipeline = T.Compose([lambda v: v + 1, lambda v: v * 2])
    torch.testing.assert_close(pipeline(video), (video + 1) * 2)


def test_epoch_sampler_order_depends_on_seed_and_epoch_only() -> None:
    data = list(range(10))
    sampler = EpochShuffleSampler(data, seed=3)
    first = list(sampler)
    assert [epoch for epoch, _ in first] == [0] * 10 and sorted(i for _, i in first) == data
    assert list(sampler) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert [i for _, i in second] != [i for _, i in first] and all(epoch == 1 for epoch, _ in second)
    resumed = EpochShuffleSampler(data, seed=3)
    resumed.set_epoch(1)
    assert list(resumed) == second  # a resumed run sees the same epoch-1 order
    assert [i for _, i in EpochShuffleSampler(data, seed=4)] != [i for _, i in first]
    # DDP: two ranks, 11 items -> 6 each, padded with the start of the permutation.
    shards = []
    for rank in (0, 1):
        shard = EpochShuffleSampler(list(range(11)), num_replicas=2, rank=rank, seed=3)
        shard.set_epoch(2)
        shards.append([i for _, i in shard])
        assert len(shard) == 6
    order = EpochShuffleSampler(list(range(11)), seed=3).permutation(2)
    assert shards[0] == (order + order[:1])[0::2] and shards[1] == (order + order[:1])[1::2]


@pytest.fixture(scope="module")
def counter_videos(tmp_path_factory: pytest.TempPathFactory) -> list[VideoRecord]:
    folder = tmp_path_factory.mktemp("counter")
    paths = [write_video(folder / f"v{i}.mp4", i, num_frames=16, height=32, width=48) for i in range(4)]
    return [VideoRecord(path=p, label=i, name=p.name) for i, p in enumerate(paths)]


def _transform() -> Compose:
    return Compose([partial(random_short_side_scale, min_size=16, max_size=32), partial(random_crop, size=16)])


def test_training_items_do_not_depend_on_workers_or_resume(counter_videos: list[VideoRecord]) -> None:
    def epoch_items(num_workers: int, epoch: int) -> list[tuple]:
        dataset = ClipDataset(
            records=counter_videos, mode="train", num_frames=4, sampling_rate=2, transform=_transform(), seed=5
        )
        sampler = EpochShuffleSampler(dataset, seed=5)
        sampler.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=collate_clips, num_workers=num_workers)
        # Flat frames do not show the crop: record the clip's frame numbers and its exact pixels.
        return [
            (int(i), read_identity(v, normalized=False)[1], v.sum().item())
            for b in loader
            for i, v in zip(b["video_index"], b["video"])
        ]

    single = epoch_items(0, epoch=1)
    assert epoch_items(2, epoch=1) == single
    assert epoch_items(0, epoch=2) != single
    assert len({tuple(frames) for _, frames, _ in single}) > 1  # random temporal offsets


def test_pyav_reader_matches_pytorchvideo_and_reads_folders_and_webm(
    counter_videos: list[VideoRecord], tmp_path: Path
) -> None:
    path = counter_videos[2].path
    reference = decode_video(path)  # PyTorchVideo's EncodedVideo, whole video
    select = torch.tensor([15, 0, 7, 7])
    assert torch.equal(read_frames(path, lambda n: select), reference[select])
    assert torch.equal(read_frames(path, lambda n: select, decoder="pytorchvideo"), reference[select])
    webm = write_video(tmp_path / "clip.webm", 3, num_frames=10)
    with av.open(str(webm)) as container:
        assert container.streams.video[0].frames == 0  # no count in the header: decoded whole
    assert read_identity(
        read_frames(webm, lambda n: torch.arange(n)).permute(3, 0, 1, 2).float() / 255, normalized=False
    )[1] == list(range(10))
    folder = write_frame_folder(tmp_path / "frames", 4, num_frames=12)
    frames = read_frames(folder, lambda n: torch.tensor([1, 9, 10, 11]))  # natural order: img_2 before img_10
    assert read_identity(frames.permute(3, 0, 1, 2).float() / 255, normalized=False) == (4, [1, 9, 10, 11])
    with pytest.raises(ValueError, match="decoder='decord' needs the decord package"):
        ClipDataset(records=counter_videos, mode="val", num_frames=4, decoder="decord")
    with pytest.raises(
        ValueError, match=r"decoder='opencv' is invalid: expected one of \('pyav', 'pytorchvideo', 'decord'\)"
    ):
        ClipDataset(records=counter_videos, mode="val", num_frames=4, decoder="opencv")
