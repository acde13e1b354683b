"""``atfr predict`` on a folder of real videos (mp4, avi, webm, nested, one truncated): one JSON line per file."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from atfr_lightning.cli import run_cli
from atfr_lightning.data import VideoFolderDataModule, class_names
from atfr_lightning.data.readers.annotations import AnnotationError

CONFIG = str(Path(__file__).resolve().parents[1] / "experiments" / "synthetic" / "x3d_sgs.yaml")


def _write_video(path: Path, codec: str, *, frames: int = 20, size: int = 40) -> None:
    rng = np.random.default_rng(len(path.name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    _write_video(root / "a.mp4", "libx264")
    _write_video(root / "nested" / "deeper" / "b.avi", "mpeg4")
    _write_video(root / "nested" / "c.webm", "libvpx")
    _write_video(root / "broken.mp4", "libx264")
    data = (root / "broken.mp4").read_bytes()
    (root / "broken.mp4").write_bytes(data[: len(data) // 5])  # truncated: the moov atom is gone
    (root / "notes.txt").write_text("not a video")
    return root


def test_folder_lists_every_video_at_any_depth(video_folder):
    datamodule = VideoFolderDataModule(video_root=str(video_folder), num_frames=8, crop_size=32, num_workers=0)
    datamodule.setup("predict")
    assert [r.name for r in datamodule.predict_dataset.records] == [
        "a.mp4", "broken.mp4", "nested/c.webm", "nested/deeper/b.avi",
    ]
    with pytest.raises(AnnotationError, match="only predicts"):
        datamodule.setup("fit")


@pytest.mark.slow
def test_predict_command_writes_one_line_per_video(video_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    train = [
        f"--data.init_args.root={tmp_path / 'data'}", "--data.init_args.num_train=8", "--data.init_args.num_val=4",
        "--data.init_args.num_frames=8", "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
        "--model.sgs_start_epoch=0", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path / 'train'}", f"--trainer.logger.init_args.save_dir={tmp_path / 'train'}",
    ]
    allocator_calls = []
    monkeypatch.setattr("atfr_lightning.cli.keep_freed_memory", lambda: allocator_calls.append(1) or True)
    run_cli(["fit", "--config", CONFIG, *train])
    (checkpoint,) = (tmp_path / "train").rglob("last.ckpt")
    assert allocator_calls == []  # training leaves malloc alone

    # The command: the training config, its checkpoint, another datamodule.
    out = tmp_path / "predict"
    run_cli([
        "predict", "--config", CONFIG, f"--ckpt_path={checkpoint}",
        "--data=atfr_lightning.data.VideoFolderDataModule", f"--data.init_args.video_root={video_folder}",
        "--data.init_args.num_frames=8", "--data.init_args.crop_size=32", "--data.init_args.num_workers=0",
        f"--trainer.default_root_dir={out}", f"--trainer.logger.init_args.save_dir={out}",
        "--trainer.enable_progress_bar=false",
    ])
    assert allocator_calls == [1]  # prediction on a CPU keeps freed memory for the next batch
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    by_video = {line["video"]: line for line in lines}
    assert sorted(by_video) == ["a.mp4", "broken.mp4", "nested/c.webm", "nested/deeper/b.avi"]
    assert set(by_video["broken.mp4"]) == {"video", "error"} and "unreadable" in by_video["broken.mp4"]["error"]
    names = set(class_names("appear"))
    for video in ("a.mp4", "nested/c.webm", "nested/deeper/b.avi"):
        line = by_video[video]
        assert [entry["class"] for entry in line["top5"]] and {e["class"] for e in line["top5"]} <= names
        probabilities = [entry["probability"] for entry in line["top5"]]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert line["views"] == 1 and 1 <= line["bins"]["sgs"][0] <= 4
        assert 0 < line["gflops"] < 0.02  # the small X3D: 0.0172 GFLOPs without SGS
