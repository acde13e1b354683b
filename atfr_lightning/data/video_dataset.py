"""Map-style dataset over a PySlowFast/Kinetics-style ``path label`` list of encoded videos.

Map-style (not PyTorchVideo's iterable ``LabeledVideoDataset``) so that the epoch length is
the number of list entries whatever the number of workers or devices, and Lightning's
distributed sampler splits it the usual way.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from atfr_lightning._pytorchvideo import import_pytorchvideo
from atfr_lightning.data.transforms import VideoTransform, uint8_to_float, uniform_temporal_indices


class VideoDecodeWarning(UserWarning):
    """A video could not be read and another one was used in its place."""


@dataclass(frozen=True)
class VideoEntry:
    """One line of a video list: a resolved path and its 0-based integer label."""

    path: Path
    label: int


def parse_video_list(list_path: str | Path, *, video_root: str | Path | None = None) -> list[VideoEntry]:
    """Read a ``<path> <label>`` list, one video a line.

    The label is the last whitespace-separated token, so paths may contain spaces
    (Kinetics class folders do). CRLF line ends, trailing spaces and blank lines are
    accepted. Relative paths are resolved against ``video_root`` (default: the list's folder).

    Raises:
        ValueError: naming the file, the line number and the line, when a line has no
            path, or its last token is not a non-negative integer.
    """
    list_path = Path(list_path)
    base = Path(video_root) if video_root is not None else list_path.parent
    entries = []
    # newline="" keeps "\r" so that it is stripped below like any trailing whitespace.
    with open(list_path, encoding="utf-8", newline="") as handle:
        for line_number, raw_line in enumerate(handle, start=1):
            line = raw_line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit()):
                text = raw_line.rstrip("\r\n")
                raise ValueError(
                    f"{list_path}:{line_number}: expected '<path> <label>' with a non-negative integer "
                    f"label as the last token, got {text!r}"
                )
            path = Path(parts[0].strip())
            entries.append(VideoEntry(path=path if path.is_absolute() else base / path, label=int(parts[1])))
    return entries


def decode_video(path: str | Path, *, decoder: str = "pyav") -> torch.Tensor:
    """Decode every frame of a video with PyTorchVideo's ``EncodedVideo`` (``decoder`` backend).

    Returns:
        ``(T, H, W, 3)`` uint8 RGB frames.

    Raises:
        RuntimeError: the file cannot be opened or holds no decodable video frame
            (PyTorchVideo logs decode errors and returns no frames instead of raising).
        FileNotFoundError: the file does not exist.
    """
    encoded_video = import_pytorchvideo("pytorchvideo.data.encoded_video")
    video = encoded_video.EncodedVideo.from_path(str(path), decode_audio=False, decoder=decoder)
    try:
        # [0, inf) is the whole stream, whatever the header says about its duration.
        clip = video.get_clip(0, math.inf)["video"]  # (C, T, H, W) float32 in [0, 255]
    finally:
        video.close()
    if clip is None:
        raise RuntimeError(f"no decodable video frames in {path}")
    return clip.round().clamp_(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()


class VideoDataset(Dataset):
    """Labelled video clips read from a ``path label`` list.

    Each item decodes a video (or takes it from the decoded cache), picks ``num_frames``
    frames, and returns::

        {"video": (C, num_frames, H', W') float32 after ``transform``,
         "label": int,
         "video_index": int}  # the list position of the video actually returned

    Frames are picked uniformly (``round(linspace)``) inside a window of
    ``num_frames * sampling_rate`` frames: random in training, centred in evaluation.
    A video shorter than the window is sampled uniformly over its whole length.

    A missing or undecodable file does not stop training: the item is taken from the next
    readable video in list order (deterministic, epoch length unchanged), the file is
    recorded in :attr:`failures` and warned about once (:class:`VideoDecodeWarning`).
    With DataLoader workers, each worker keeps its own record and cache.

    Args:
        list_path: The ``<path> <label>`` list (see :func:`parse_video_list`).
        video_root: Folder relative paths start from; default the list's folder.
        num_frames: Frames per returned clip, ``T``.
        sampling_rate: Spacing of the frames in the source video, in frames.
        train: Random temporal window if True, centred window if False.
        transform: Applied to the ``(C, T, H, W)`` float clip in ``[0, 1]`` (crop,
            normalise, ...). ``None`` returns that clip as is.
        cache_decoded: Keep decoded uint8 frames in memory so that later epochs skip
            decoding (``T*H*W*3`` bytes per video and per worker: for small sets only).
    """

    def __init__(
        self,
        *,
        list_path: str | Path,
        video_root: str | Path | None = None,
        num_frames: int,
        sampling_rate: int = 1,
        train: bool,
        transform: VideoTransform | None = None,
        cache_decoded: bool = False,
    ) -> None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if sampling_rate < 1:
            raise ValueError(f"sampling_rate must be >= 1, got {sampling_rate}")
        self.entries = parse_video_list(list_path, video_root=video_root)
        if not self.entries:
            raise ValueError(f"{list_path} lists no videos")
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.train = train
        self.transform = transform
        self.cache_decoded = cache_decoded
        self.failures: list[Path] = []
        self._failed: set[int] = set()
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def num_failures(self) -> int:
        """How many distinct videos failed to load so far (in this process)."""
        return len(self.failures)

    def _frames(self, index: int) -> torch.Tensor:
        """``(T, H, W, 3)`` uint8 frames of video ``index``; raises if it cannot be read."""
        frames = self._cache.get(index)
        if frames is None:
            frames = decode_video(self.entries[index].path)
            if self.cache_decoded:
                self._cache[index] = frames
        return frames

    def _load(self, index: int) -> tuple[int, torch.Tensor]:
        """Frames of ``index`` or, if it fails, of the next readable video in list order."""
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._failed:
                continue
            try:
                return candidate, self._frames(candidate)
            except Exception as error:  # noqa: BLE001 - decoders raise many types; all mean "unreadable"
                self._failed.add(candidate)
                self.failures.append(self.entries[candidate].path)
                warnings.warn(
                    f"skipping unreadable video {self.entries[candidate].path} "
                    f"({type(error).__name__}: {error}); using the next video in the list instead",
                    VideoDecodeWarning,
                    stacklevel=2,
                )
        raise RuntimeError(f"none of the {len(self)} videos could be read; failures: {self.failures[:5]} ...")

    def _frame_indices(self, num_source_frames: int) -> torch.Tensor:
        window = self.num_frames * self.sampling_rate
        if num_source_frames <= window:
            return uniform_temporal_indices(num_source_frames, self.num_frames)
        if self.train:
            start = int(torch.randint(0, num_source_frames - window + 1, (1,)))
        else:
            start = (num_source_frames - window) // 2
        return start + uniform_temporal_indices(window, self.num_frames)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        video_index, frames = self._load(index)
        clip = uint8_to_float(frames[self._frame_indices(frames.shape[0])])  # (T, H, W, C) -> (C, T, H, W)
        if self.transform is not None:
            clip = self.transform(clip)
        return {"video": clip, "label": self.entries[video_index].label, "video_index": video_index}
