"""Helpers (no tests) for the dataset tests: tiny videos whose pixels say which video and frame they are.

Video ``k`` has red = 20 + 12 k, frame ``t`` green = 10 + 15 t, blue = 128, all flat, so any
scale, crop or flip leaves them readable after decoding (codecs move flat colours by a few
levels at most).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from atfr_lightning.data.video.transforms import KINETICS_MEAN, KINETICS_STD

VIDEO_STEP, FRAME_STEP = 12, 15
MAX_VIDEOS, MAX_FRAMES = 19, 16
_CODECS = {
    ".mp4": ("libx264", {"crf": "0"}),
    ".avi": ("mpeg4", {"qscale": "1"}),
    ".webm": ("libvpx-vp9", {"lossless": "1"}),
}


def identity_frames(video_id: int, num_frames: int, height: int = 32, width: int = 40) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of video ``video_id``."""
    assert 0 <= video_id < MAX_VIDEOS and num_frames <= MAX_FRAMES
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    frames[..., 0] = 20 + VIDEO_STEP * video_id
    frames[..., 1] = (10 + FRAME_STEP * np.arange(num_frames))[:, None, None]
    frames[..., 2] = 128
    return frames


def write_video(path: Path, video_id: int, *, num_frames: int = 12, height: int = 32, width: int = 40) -> Path:
    """Encode video ``video_id`` at ``path``; the codec follows the extension (mp4, avi, webm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    codec, options = _CODECS[path.suffix]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {**options, "threads": "1"}
        for frame in identity_frames(video_id, num_frames, height, width):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_frame_folder(folder: Path, video_id: int, *, num_frames: int = 12) -> Path:
    """Video ``video_id`` as PNG frames ``img_1.png .. img_<T>.png`` (natural order matters)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(identity_frames(video_id, num_frames), start=1):
        Image.fromarray(frame).save(folder / f"img_{t}.png")
    return folder


def read_identity(clip: torch.Tensor, *, normalized: bool = True) -> tuple[int, list[int]]:
    """``(video id, source frame numbers)`` of a ``(C, T, H, W)`` clip of identity frames."""
    if normalized:
        mean = torch.tensor(KINETICS_MEAN).view(3, 1, 1, 1)
        std = torch.tensor(KINETICS_STD).view(3, 1, 1, 1)
        clip = clip * std + mean
    colour = clip.mean(dim=(2, 3)) * 255  # (C, T)
    video_ids = ((colour[0] - 20) / VIDEO_STEP).round().long().unique().tolist()
    assert len(video_ids) == 1, f"frames of several videos in one clip: {video_ids}"
    frames = ((colour[1] - 10) / FRAME_STEP).round().long().tolist()
    return video_ids[0], frames


UCF_CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]


def ucf_file(class_name: str, group: int) -> str:
    """``<Class>/v_<Class>_gGG_c01.avi``, with the real HandstandPushups / HandStandPushups quirk."""
    spelled = "HandStandPushups" if class_name == "HandstandPushups" else class_name
    return f"{class_name}/v_{spelled}_g{group:02d}_c01.avi"


def write_ucf101(root: Path) -> dict[str, int]:
    """A 3-class, 9-video UCF101 copy (``UCF-101/``, ``ucfTrainTestlist/`` with CRLF lines).

    Splits 1 and 2: group ``split`` is test, the other groups train. Returns path -> identity.
    """
    identity = {}
    for class_name in UCF_CLASSES:
        for group in (1, 2, 3):
            relative = ucf_file(class_name, group)
            identity[relative] = len(identity)
            write_video(root / "UCF-101" / relative, identity[relative])
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_bytes(b"".join(f"{i + 1} {c}\r\n".encode() for i, c in enumerate(UCF_CLASSES)))
    for split in (1, 2):
        train = [f"{ucf_file(c, g)} {i + 1}\r\n" for i, c in enumerate(UCF_CLASSES) for g in (1, 2, 3) if g != split]
        test = [f"{ucf_file(c, split)}\r\n" for c in UCF_CLASSES]
        (lists / f"trainlist0{split}.txt").write_bytes("".join(train).encode())
        (lists / f"testlist0{split}.txt").write_bytes("".join(test).encode())
    return identity
