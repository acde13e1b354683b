"""Unreadable videos: skipped, replaced (epoch length unchanged), counted and named at the end of the epoch."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from test_datasets_helpers import read_identity, write_video

from atfr_lightning.data import ClipDataset, DecodeFailureSummary, KineticsDataModule, VideoRecord, collate_clips
from atfr_lightning.data.video.clip_dataset import VideoDecodeWarning

NUM_VIDEOS = 8


@pytest.fixture()
def damaged(tmp_path: Path) -> Path:
    """A ``path label`` list of 8 videos: #3 is random bytes, #4 truncated to half, #6 missing."""
    lines = []
    for i in range(NUM_VIDEOS):
        write_video(tmp_path / "videos" / f"clip {i}.mp4", i)  # a space in the name, like Kinetics
        lines.append(f"videos/clip {i}.mp4 {i % 2}")
    (tmp_path / "videos" / "clip 3.mp4").write_bytes(
        torch.randint(0, 256, (4000,), dtype=torch.uint8).numpy().tobytes()
    )
    data = (tmp_path / "videos" / "clip 4.mp4").read_bytes()
    (tmp_path / "videos" / "clip 4.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "videos" / "clip 6.mp4").unlink()
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_dataset_replaces_and_lists_unreadable_videos(damaged: Path) -> None:
    records = [
        VideoRecord(path=damaged / "videos" / f"clip {i}.mp4", label=i % 2, name=str(i)) for i in range(NUM_VIDEOS)
    ]
    dataset = ClipDataset(records=records, mode="val", num_frames=4)
    assert len(dataset) == NUM_VIDEOS
    with pytest.warns(VideoDecodeWarning) as warned:
        items = [dataset[i] for i in range(NUM_VIDEOS)]
    assert sorted(str(w.message).split(" (")[0] for w in warned) == [
        f"skipping unreadable video {damaged / 'videos' / f'clip {i}.mp4'}" for i in (3, 4, 6)
    ]
    # Each unreadable one is replaced by the next readable one, with that video's label.
    assert [item["video_index"] for item in items] == [0, 1, 2, 5, 5, 5, 7, 7]
    assert [item["decode_failures"] for item in items] == [[], [], [], [3, 4], [4], [], [6], []]
    assert all(read_identity(item["video"], normalized=False)[0] == item["video_index"] for item in items)
    assert [item["label"] for item in items] == [records[item["video_index"]].label for item in items]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known failures are not retried nor warned about again
        assert dataset[3]["decode_failures"] == [3, 4]
    batch = collate_clips([items[3], items[0], items[4]])
    assert batch["decode_failures"].tolist() == [[3, 4], [-1, -1], [4, -1]]


class TinyClassifier(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 2)
        self.seen: list[int] = []

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self.seen.extend(batch["video_index"].tolist())
        logits = self.head(batch["video"].mean(dim=(2, 3, 4)))  # (N, C, T, H, W) -> (N, C) -> (N, 2)
        return torch.nn.functional.cross_entropy(logits, batch["label"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_training_continues_and_the_epoch_summary_names_the_files(damaged: Path, tmp_path: Path) -> None:
    dm = KineticsDataModule(
        video_root=str(damaged),
        annotation_format="path_label",
        train_annotations="list.txt",
        val_annotations="list.txt",
        num_frames=4,
        sampling_rate=1,
        crop_size=16,
        train_scale=(16, 24),
        batch_size=2,
        num_workers=1,  # the failures happen in a worker process and must still be reported
    )
    model = TinyClassifier()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with pytest.warns(UserWarning) as warned:
        trainer.fit(model, datamodule=dm)
    # The missing file was left out at setup; the two unreadable ones are replaced in every epoch.
    assert dm.missing_videos["train"] == [str(damaged / "videos" / "clip 6.mp4")]
    records = dm.train_dataset.records
    assert len(records) == NUM_VIDEOS - 1 and records[3].path.name == "clip 3.mp4"
    assert trainer.global_step == 2 * 4  # 7 items in batches of 2, every batch of both epochs trained on
    assert len(model.seen) == 2 * 7 and not {3, 4} & set(model.seen)
    summaries = [c for c in trainer.callbacks if isinstance(c, DecodeFailureSummary)]
    assert len(summaries) == 1, "the datamodule adds the summary callback itself"
    history = summaries[0].history
    assert [(h["split"], h["epoch"]) for h in history] == [("train", 0), ("train", 1)]
    expected = [str(damaged / "videos" / f"clip {i}.mp4") for i in (3, 4)]
    for entry in history:
        assert entry["files"] == expected
        assert entry["skipped"] == 3  # item 3 skips videos 3 and 4, item 4 skips video 4
    messages = [str(w.message) for w in warned]
    assert any(
        m.startswith("train epoch 1: 3 item(s) replaced because 2 video(s) could not be read: ") for m in messages
    )
    assert any("1 of 8 listed videos are missing" in m for m in messages)
    assert trainer.callback_metrics["train/decode_failures"] == 3
