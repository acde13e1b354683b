"""Read the frames a clip needs from an encoded video or a folder of frame images.

Decoders (the ``decoder`` option of the datasets and datamodules):

* ``"pyav"`` (default): PyAV, the library behind PyTorchVideo's default decoder, driven
  frame-accurately: the header's frame count places the clip, decoding stops after the
  clip's last frame, and only the kept frames are converted to RGB uint8. PyTorchVideo's
  ``EncodedVideo.get_clip`` instead converts every decoded frame to float32 (measured 30x
  slower and 4x the memory on a 720p video), which is why it is not the default.
* ``"pytorchvideo"``: PyTorchVideo's ``EncodedVideo`` with its PyAV backend, whole video
  (:func:`decode_video`).
* ``"decord"``: PyTorchVideo's ``EncodedVideo`` with its decord backend, when ``decord``
  is installed.

A folder path is read as a video of frame images (``.jpg``, ``.jpeg``, ``.png``) in natural
order (``img_2`` before ``img_10``), e.g. Something-Something V2 converted to frames; only
the selected frames are opened.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import torch

from atfr_lightning._pytorchvideo import import_pytorchvideo

DECODERS: tuple[str, ...] = ("pyav", "pytorchvideo", "decord")
FRAME_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png"})

# select(num_source_frames) -> (num_frames,) int64 source frame indices.
FrameSelector = Callable[[int], torch.Tensor]


class VideoReadError(RuntimeError):
    """A video exists but holds no readable frames (or cannot be opened as a video)."""


def check_decoder(decoder: str) -> None:
    """Raise a ValueError naming ``decoder`` if it is unknown or its package is not installed."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder={decoder!r} is invalid: expected one of {DECODERS}")
    if decoder == "decord" and importlib.util.find_spec("decord") is None:
        raise ValueError("decoder='decord' needs the decord package, which is not installed: use 'pyav'")


def read_frames(path: str | Path, select: FrameSelector, *, decoder: str = "pyav") -> torch.Tensor:
    """Frames ``select(num_source_frames)`` of the video at ``path``.

    Returns:
        ``(len(indices), H, W, 3)`` uint8 RGB frames, in the order of the indices
        (repeated indices give repeated frames).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VideoReadError: the file is not a readable video, or holds no decodable frame.
        av.error.FFmpegError: decoding failed.
    """
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path, select)
    if not path.is_file():
        raise FileNotFoundError(f"no such video: {path}")
    if decoder == "pyav":
        return _read_pyav(path, select)
    check_decoder(decoder)
    frames = decode_video(path, decoder="pyav" if decoder == "pytorchvideo" else decoder)
    return frames[select(frames.shape[0])]


def decode_video(path: str | Path, *, decoder: str = "pyav") -> torch.Tensor:
    """Decode every frame of a video with PyTorchVideo's ``EncodedVideo`` (``decoder`` backend).

    The ``"pytorchvideo"`` and ``"decord"`` decoders of :func:`read_frames`, and the reference
    the tests check the frame-accurate PyAV reader against.

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


def read_all_frames(path: str | Path, *, decoder: str = "pyav") -> torch.Tensor:
    """Every frame of the video at ``path``: ``(T, H, W, 3)`` uint8."""
    return read_frames(path, lambda count: torch.arange(count), decoder=decoder)


def _natural_key(name: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _read_frame_folder(folder: Path, select: FrameSelector) -> torch.Tensor:
    from PIL import Image

    files = frame_files(folder)
    if not files:
        raise VideoReadError(f"no frame images ({', '.join(sorted(FRAME_EXTENSIONS))}) in {folder}")
    indices = select(len(files)).tolist()
    loaded: dict[int, np.ndarray] = {}
    for index in indices:
        if index not in loaded:
            with Image.open(files[index]) as image:
                loaded[index] = np.asarray(image.convert("RGB"))
    return torch.from_numpy(np.stack([loaded[i] for i in indices]))


def _decode_selected(path: Path, num_source_frames: int | None, select: FrameSelector) -> tuple[torch.Tensor, int]:
    """Decode the frames ``select`` picks; returns them and the number of frames decoded.

    With ``num_source_frames=None`` (no count in the header) every frame is decoded first.
    """
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise VideoReadError(f"cannot open {path} as a video: {error}") from error
    with container:
        if not container.streams.video:
            raise VideoReadError(f"no video stream in {path}")
        stream = container.streams.video[0]
        wanted: list[int] | None = None if num_source_frames is None else select(num_source_frames).tolist()
        last_wanted = None if wanted is None else max(wanted)
        keep = None if wanted is None else set(wanted)
        kept: dict[int, np.ndarray] = {}
        decoded = 0
        for frame in container.decode(stream):
            if keep is None or decoded in keep:
                kept[decoded] = frame.to_ndarray(format="rgb24")
            decoded += 1
            if last_wanted is not None and decoded > last_wanted:
                break
    if decoded == 0:
        raise VideoReadError(f"no decodable video frames in {path}")
    if wanted is None:
        wanted = select(decoded).tolist()
    elif decoded <= last_wanted:
        return torch.empty(0), decoded  # fewer frames than the header said: the caller selects again
    return torch.from_numpy(np.stack([kept[i] for i in wanted])), decoded


def _read_pyav(path: Path, select: FrameSelector) -> torch.Tensor:
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as error:
        raise VideoReadError(f"cannot open {path} as a video: {error}") from error
    with container:
        streams = container.streams.video
        header_frames = streams[0].frames if streams else 0
    # WebM (SSv2) and some AVIs store no frame count: then the whole video is decoded once.
    frames, decoded = _decode_selected(path, header_frames if header_frames > 0 else None, select)
    if frames.numel() == 0:
        # The header promised more frames than the stream holds (a wrong count, or a file cut
        # short after its index): place the clip in the frames that really exist.
        frames, _ = _decode_selected(path, decoded, select)
    return frames
