"""VideoDataset and its list parser, on hand-made videos whose frames are known."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from atfr_lightning.data import video_dataset
from atfr_lightning.data.synthetic import ensure_synthetic_dataset, write_mp4
from atfr_lightning.data.transforms import uniform_temporal_indices
from atfr_lightning.data.video_dataset import VideoDataset, VideoDecodeWarning, decode_video, parse_video_list

GREY_STEP = 15  # frame t is a flat grey of value 10 + 15 t: the decoded grey level reveals t


def _write_counter_video(path: Path, num_frames: int = 16) -> None:
    frames = np.empty((num_frames, 32, 32, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t] = 10 + GREY_STEP * t
    write_mp4(path, frames, fps=16)


def _frame_numbers(video: torch.Tensor) -> list[int]:
    """(C, T, H, W) float in [0, 1] of a counter video -> the source frame number of each frame."""
    grey = video.mean(dim=(0, 2, 3)) * 255
    return [round((g - 10) / GREY_STEP) for g in grey.tolist()]


@pytest.fixture(scope="module")
def counter_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("counter")
    (folder / "class with spaces").mkdir()
    _write_counter_video(folder / "class with spaces" / "clip one.mp4")
    list_path = folder / "list.txt"
    list_path.write_text("class with spaces/clip one.mp4 3\n")
    return list_path


def test_parse_list_formats(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "abs.mp4"
    list_path = tmp_path / "list.csv"
    list_path.write_bytes(
        b"abseiling/a b c.mp4 0\r\n"  # CRLF and a name with spaces
        b"air drumming/x.mp4 12   \r\n"  # trailing spaces before CRLF
        b"\r\n"  # blank line
        b"plain.mp4\t7\n" + f"{absolute} 1".encode()  # tab separator, absolute path, no final newline
    )
    entries = parse_video_list(list_path)
    assert [(e.path, e.label) for e in entries] == [
        (tmp_path / "abseiling" / "a b c.mp4", 0),
        (tmp_path / "air drumming" / "x.mp4", 12),
        (tmp_path / "plain.mp4", 7),
        (absolute, 1),
    ]
    moved = parse_video_list(list_path, video_root=tmp_path / "videos")
    assert moved[0].path == tmp_path / "videos" / "abseiling" / "a b c.mp4"


@pytest.mark.parametrize("bad_line", ["just_a_path.mp4", "clip.mp4 walking", "clip.mp4 -1", "clip.mp4 2.0"])
def test_parse_list_malformed_line(tmp_path: Path, bad_line: str) -> None:
    list_path = tmp_path / "broken list.txt"
    list_path.write_text(f"ok.mp4 1\n\n{bad_line}  \r\nfine.mp4 2\n")
    with pytest.raises(ValueError) as raised:
        parse_video_list(list_path)
    message = str(raised.value)
    assert f"{list_path}:3:" in message  # file and 1-based line number (blank lines count)
    assert repr(f"{bad_line}  ") in message  # the offending text, trailing spaces shown
    assert "integer label" in message


def test_decode_video_known_frames(counter_list: Path) -> None:
    frames = decode_video(counter_list.parent / "class with spaces" / "clip one.mp4")
    assert frames.dtype == torch.uint8 and frames.shape == (16, 32, 32, 3)
    expected = torch.tensor([10 + GREY_STEP * t for t in range(16)], dtype=torch.float32)
    # Flat grey survives H.264 + yuv420p almost exactly (limited-range rounding: +-1 level).
    torch.testing.assert_close(frames.float().mean(dim=(1, 2, 3)), expected, atol=1.5, rtol=0)


def test_item_contents(counter_list: Path) -> None:
    dataset = VideoDataset(list_path=counter_list, num_frames=16, train=False)
    assert len(dataset) == 1
    item = dataset[0]
    assert set(item) == {"video", "label", "video_index"}
    assert item["video"].dtype == torch.float32 and item["video"].shape == (3, 16, 32, 32)
    assert 0.0 <= item["video"].min() and item["video"].max() <= 1.0
    assert item["label"] == 3 and item["video_index"] == 0
    assert _frame_numbers(item["video"]) == list(range(16))


def test_transform_is_applied(counter_list: Path) -> None:
    seen = []

    def transform(video: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(video.shape))
        return video[:, :, :8, :8] * 2

    item = VideoDataset(list_path=counter_list, num_frames=4, train=False, transform=transform)[0]
    assert seen == [(3, 4, 32, 32)] and item["video"].shape == (3, 4, 8, 8)


def test_eval_takes_the_centre_window(counter_list: Path) -> None:
    # Window of 4 * 2 = 8 frames out of 16, centred: starts at 4; inside it
    # round(linspace(0, 7, 4)) = [0, 2, 5, 7].
    dataset = VideoDataset(list_path=counter_list, num_frames=4, sampling_rate=2, train=False)
    assert _frame_numbers(dataset[0]["video"]) == [4, 6, 9, 11]


def test_train_takes_random_windows(counter_list: Path) -> None:
    dataset = VideoDataset(list_path=counter_list, num_frames=4, sampling_rate=2, train=True, cache_decoded=True)
    torch.manual_seed(0)
    starts = set()
    for _ in range(60):
        numbers = _frame_numbers(dataset[0]["video"])
        start = numbers[0]
        assert numbers == [start, start + 2, start + 5, start + 7]
        assert 0 <= start <= 16 - 8
        starts.add(start)
    assert len(starts) >= 5  # 9 possible starts, 60 draws


def test_short_video_is_sampled_uniformly(counter_list: Path) -> None:
    # Window 4 * 8 = 32 > 16 frames: uniform over the whole video, same in train and eval.
    for train in (True, False):
        dataset = VideoDataset(list_path=counter_list, num_frames=4, sampling_rate=8, train=train)
        assert _frame_numbers(dataset[0]["video"]) == [0, 5, 10, 15]
    longer = VideoDataset(list_path=counter_list, num_frames=20, train=False)[0]["video"]
    assert _frame_numbers(longer) == uniform_temporal_indices(16, 20).tolist()


def test_cache_decodes_each_file_once(counter_list: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_decode = video_dataset.decode_video
    monkeypatch.setattr(video_dataset, "decode_video", lambda path: (calls.append(path), real_decode(path))[1])
    cached = VideoDataset(list_path=counter_list, num_frames=8, train=True, cache_decoded=True)
    for _ in range(3):
        cached[0]
    assert len(calls) == 1
    uncached = VideoDataset(list_path=counter_list, num_frames=8, train=True, cache_decoded=False)
    for _ in range(3):
        uncached[0]
    assert len(calls) == 4


@pytest.fixture()
def damaged_set(tmp_path: Path) -> Path:
    root = ensure_synthetic_dataset(
        root=tmp_path / "set", task="motion", num_train=10, num_val=5, num_frames=8, frame_size=16
    )
    rng = np.random.default_rng(0)
    (root / "videos/train/train_00004.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (root / "videos/train/train_00007.mp4").unlink()
    (root / "videos/train/train_00009.mp4").write_bytes(b"")  # truncated to nothing, and last in the list
    return root


def test_unreadable_files_are_skipped_counted_and_recorded(damaged_set: Path) -> None:
    labels = [int(line.rsplit(" ", 1)[1]) for line in (damaged_set / "train.csv").read_text().splitlines()]
    dataset = VideoDataset(list_path=damaged_set / "train.csv", num_frames=8, train=False)
    assert len(dataset) == 10
    with pytest.warns(VideoDecodeWarning, match="train_00004.mp4"):
        item = dataset[4]
    # Replaced by the next readable video, with that video's label and index.
    assert item["video_index"] == 5 and item["label"] == labels[5]
    assert item["video"].shape == (3, 8, 16, 16) and torch.isfinite(item["video"]).all()
    assert dataset.failures == [damaged_set / "videos/train/train_00004.mp4"] and dataset.num_failures == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known failure is neither retried nor warned about again
        assert dataset[4]["video_index"] == 5
    with pytest.warns(VideoDecodeWarning, match="train_00007.mp4"):
        assert dataset[7]["video_index"] == 8
    with pytest.warns(VideoDecodeWarning, match="train_00009.mp4"):
        assert dataset[9]["video_index"] == 0  # wraps around to the start of the list
    assert [path.name for path in dataset.failures] == ["train_00004.mp4", "train_00007.mp4", "train_00009.mp4"]
    # A full epoch still has one valid item per list entry.
    items = [dataset[i] for i in range(len(dataset))]
    assert [item["video_index"] for item in items] == [0, 1, 2, 3, 5, 5, 6, 8, 8, 0]
    assert dataset.num_failures == 3


def test_all_unreadable_raises(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"not a video")
    (tmp_path / "list.txt").write_text("a.mp4 0\nmissing.mp4 1\n")
    dataset = VideoDataset(list_path=tmp_path / "list.txt", num_frames=4, train=False)
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="none of the 2 videos could be read"):
        dataset[0]
    assert dataset.num_failures == 2


@pytest.mark.parametrize(("name", "value"), [("num_frames", 0), ("sampling_rate", 0)])
def test_constructor_errors(counter_list: Path, name: str, value: int) -> None:
    kwargs = {"list_path": counter_list, "num_frames": 4, "train": False, name: value}
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got {value}"):
        VideoDataset(**kwargs)


def test_transforms_against_reference() -> None:
    from atfr_lightning.data import transforms as T

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
