"""ClipDataset on tiny videos whose frames are known: clip frames, transform, cache, unreadable files.

Also the PyTorchVideo decoder (``decode_video``) on the same videos.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from test_datasets_helpers import read_identity, write_video

from atfr_lightning.data import ClipDataset, VideoRecord
from atfr_lightning.data.video import clip_dataset
from atfr_lightning.data.video.clip_dataset import VideoDecodeWarning
from atfr_lightning.data.video.decoding import decode_video
from atfr_lightning.data.video.transforms import Compose, uint8_to_float, uniform_temporal_indices

COUNTER_ID = 2  # identity video 2: the decoded colours reveal the video and each frame's number


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> VideoRecord:
    folder = tmp_path_factory.mktemp("counter")
    path = write_video(folder / "class with spaces" / "clip one.mp4", COUNTER_ID, num_frames=16, height=32, width=32)
    return VideoRecord(path=path, label=3, name="class with spaces/clip one.mp4")


def _dataset(record: VideoRecord, **kwargs: object) -> ClipDataset:
    return ClipDataset(records=[record], **{"mode": "val", **kwargs})


def _frame_numbers(item: dict) -> list[int]:
    video_id, frames = read_identity(item["video"], normalized=False)
    assert video_id == COUNTER_ID
    return frames


def test_decode_video_known_frames(counter: VideoRecord) -> None:
    frames = decode_video(counter.path)
    assert frames.dtype == torch.uint8 and frames.shape == (16, 32, 32, 3)
    assert read_identity(uint8_to_float(frames), normalized=False) == (COUNTER_ID, list(range(16)))


def test_item_contents(counter: VideoRecord) -> None:
    dataset = _dataset(counter, num_frames=16)
    assert len(dataset) == 1
    item = dataset[0]
    assert set(item) == {"video", "label", "video_index", "view_index", "decode_failures"}
    assert item["video"].dtype == torch.float32 and item["video"].shape == (3, 16, 32, 32)
    assert 0.0 <= item["video"].min() and item["video"].max() <= 1.0
    assert item["label"] == 3 and item["video_index"] == 0 and item["view_index"] == 0
    assert item["decode_failures"] == []
    assert _frame_numbers(item) == list(range(16))


def test_transform_is_applied(counter: VideoRecord) -> None:
    seen = []

    def crop_and_double(video: torch.Tensor) -> torch.Tensor:  # a plain transform, without keywords
        seen.append(tuple(video.shape))
        return video[:, :, :8, :8] * 2

    item = _dataset(counter, num_frames=4, transform=Compose([crop_and_double]))[0]
    assert seen == [(3, 4, 32, 32)] and item["video"].shape == (3, 4, 8, 8)


def test_val_takes_the_centre_window(counter: VideoRecord) -> None:
    # Window of 4 * 2 = 8 frames out of 16, centred: starts at 4; inside it
    # round(linspace(0, 7, 4)) = [0, 2, 5, 7].
    assert _frame_numbers(_dataset(counter, num_frames=4, sampling_rate=2)[0]) == [4, 6, 9, 11]


def test_train_takes_random_windows(counter: VideoRecord) -> None:
    dataset = _dataset(counter, mode="train", num_frames=4, sampling_rate=2, cache_decoded=True)
    starts = set()
    for epoch in range(60):
        numbers = _frame_numbers(dataset[(epoch, 0)])
        start = numbers[0]
        assert numbers == [start, start + 2, start + 5, start + 7]
        assert 0 <= start <= 16 - 8
        starts.add(start)
    assert len(starts) >= 5  # 9 possible starts, 60 epochs


def test_short_video_is_sampled_uniformly(counter: VideoRecord) -> None:
    # Window 4 * 8 = 32 > 16 frames: uniform over the whole video, same in train and val.
    for mode in ("train", "val"):
        assert _frame_numbers(_dataset(counter, mode=mode, num_frames=4, sampling_rate=8)[0]) == [0, 5, 10, 15]
    longer = _dataset(counter, num_frames=20)[0]
    assert _frame_numbers(longer) == uniform_temporal_indices(16, 20).tolist()


def test_cache_decodes_each_file_once(counter: VideoRecord, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, clips = [], []
    real_all, real_clip = clip_dataset.read_all_frames, clip_dataset.read_frames
    monkeypatch.setattr(clip_dataset, "read_all_frames", lambda path, **kw: (whole.append(path), real_all(path, **kw))[1])
    monkeypatch.setattr(
        clip_dataset, "read_frames", lambda path, select, **kw: (clips.append(path), real_clip(path, select, **kw))[1]
    )
    cached = _dataset(counter, mode="train", num_frames=8, cache_decoded=True)
    for epoch in range(3):
        cached[(epoch, 0)]
    assert (len(whole), len(clips)) == (1, 0)
    # Without the cache each item reads only its clip's frames...
    uncached = _dataset(counter, mode="train", num_frames=8)
    for epoch in range(3):
        uncached[(epoch, 0)]
    assert (len(whole), len(clips)) == (1, 3)
    # ...except for the test views of one video, decoded once for all of them.
    views = _dataset(counter, mode="test", num_frames=8, num_clips=3, num_crops=2)
    assert [views[i]["view_index"] for i in range(len(views))] == list(range(6))
    assert (len(whole), len(clips)) == (2, 3)


@pytest.fixture()
def damaged(tmp_path: Path) -> list[VideoRecord]:
    """10 videos: #4 random bytes, #7 missing, #9 (the last) empty."""
    records = [
        VideoRecord(path=write_video(tmp_path / f"v{i}.mp4", i, num_frames=8, height=16, width=16), label=i % 3, name=f"v{i}")
        for i in range(10)
    ]
    rng = np.random.default_rng(0)
    records[4].path.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    records[7].path.unlink()
    records[9].path.write_bytes(b"")
    return records


def test_unreadable_files_are_skipped_recorded_and_wrap_around(damaged: list[VideoRecord]) -> None:
    dataset = ClipDataset(records=damaged, mode="val", num_frames=8)
    assert len(dataset) == 10
    with pytest.warns(VideoDecodeWarning, match=r"v4\.mp4"):
        item = dataset[4]
    # Replaced by the next readable video, with that video's label and index.
    assert item["video_index"] == 5 and item["label"] == damaged[5].label and item["decode_failures"] == [4]
    assert item["video"].shape == (3, 8, 16, 16) and read_identity(item["video"], normalized=False)[0] == 5
    assert dataset.failures == [damaged[4]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known failure is neither retried nor warned about again
        assert dataset[4]["video_index"] == 5
    with pytest.warns(VideoDecodeWarning, match=r"v7\.mp4"):
        assert dataset[7]["video_index"] == 8
    with pytest.warns(VideoDecodeWarning, match=r"v9\.mp4"):
        assert dataset[9]["video_index"] == 0  # wraps around to the start of the list
    assert [record.name for record in dataset.failures] == ["v4", "v7", "v9"]
    # A full epoch still has one valid item per record.
    items = [dataset[i] for i in range(len(dataset))]
    assert [item["video_index"] for item in items] == [0, 1, 2, 3, 5, 5, 6, 8, 8, 0]
    assert len(dataset.failures) == 3


def test_all_unreadable_raises(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"not a video")
    records = [
        VideoRecord(path=tmp_path / "a.mp4", label=0, name="a"),
        VideoRecord(path=tmp_path / "missing.mp4", label=1, name="missing"),
    ]
    dataset = ClipDataset(records=records, mode="val", num_frames=4)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="none of the 2 videos could be read"):
        dataset[0]
    assert len(dataset.failures) == 2


@pytest.mark.parametrize(("name", "value"), [("num_frames", 0), ("sampling_rate", 0)])
def test_constructor_errors(counter: VideoRecord, name: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"{name}={value} is invalid: expected an integer >= 1"):
        _dataset(counter, **{"num_frames": 4, name: value})
