"""SyntheticDataModule: generation on first use, the three tasks, batches, per-device batch size, errors."""

from __future__ import annotations

import gc
import json
import re
import weakref
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from atfr_lightning.data import SyntheticDataModule
from atfr_lightning.data.synthetic.generator import MARKER_NAME, SyntheticParams
from atfr_lightning.data.video.decoding import decode_video
from atfr_lightning.data.video.transforms import (
    KINETICS_MEAN,
    KINETICS_STD,
    center_crop,
    horizontal_flip,
    random_crop,
    random_horizontal_flip,
    uint8_to_float,
)

SMALL = {"num_train": 10, "num_val": 6, "num_frames": 8, "frame_size": 32}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("dm") / "synthetic")


def _labels(list_path: Path) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in list_path.read_text().splitlines()]


def test_prepare_and_batches(root: str) -> None:
    dm = SyntheticDataModule(root=root, **SMALL, crop_size=24, batch_size=4, num_workers=0)
    dm.prepare_data()
    assert (Path(root) / MARKER_NAME).is_file() and dm.dataset_dir == Path(root)
    dm.setup("fit")
    assert dm.num_classes == 5
    # The default task is the appear task.
    assert dm.class_names == ["horizontal stripes", "vertical stripes", "checkerboard", "ring", "nothing"]
    assert json.loads((Path(root) / "classnames.json").read_text()) == {n: i for i, n in enumerate(dm.class_names)}
    assert json.loads((Path(root) / MARKER_NAME).read_text())["params"]["task"] == "appear"

    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (4, 3, 8, 24, 24) and batch["video"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and batch["video_index"].dtype == torch.int64
    train_labels = _labels(Path(root) / "train.csv")
    assert batch["label"].tolist() == [train_labels[i] for i in batch["video_index"].tolist()]

    val_labels = _labels(Path(root) / "val.csv")
    for loader in (dm.val_dataloader(), dm.test_dataloader(), dm.predict_dataloader()):
        batches = list(loader)
        assert [b["video"].shape[0] for b in batches] == [4, 2]
        assert torch.cat([b["label"] for b in batches]).tolist() == val_labels  # unshuffled, in list order


def test_val_batch_is_normalized_center_crop(root: str) -> None:
    dm = SyntheticDataModule(root=root, **SMALL, crop_size=24, batch_size=6, num_workers=0)
    dm.setup("validate")
    assert dm.train_dataset is None
    video = next(iter(dm.val_dataloader()))["video"][2]
    # Reference: decode, centre-crop, normalise, computed here by hand.
    frames = uint8_to_float(decode_video(Path(root) / "videos/val/val_00002.mp4"))
    expected = (center_crop(frames, 24) - KINETICS_MEAN[0]) / KINETICS_STD[0]
    torch.testing.assert_close(video, expected)


def test_train_order_is_seeded(root: str) -> None:
    def epoch_indices(seed_everything: int) -> list[int]:
        L.seed_everything(seed_everything)
        dm = SyntheticDataModule(root=root, **SMALL, batch_size=5, num_workers=0)
        dm.setup("fit")
        return [i for batch in dm.train_dataloader() for i in batch["video_index"].tolist()]

    first = epoch_indices(1)
    assert sorted(first) == list(range(10))
    # The order comes from the datamodule's seed, not from whatever else drew from torch's RNG.
    assert epoch_indices(2) == first


def test_workers_deliver_full_epoch(root: str) -> None:
    dm = SyntheticDataModule(root=root, **SMALL, batch_size=3, num_workers=2)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.persistent_workers
    for _ in range(2):  # two epochs through the same persistent workers
        indices = sorted(i for batch in loader for i in batch["video_index"].tolist())
        assert indices == list(range(10))


def test_global_batch_is_split_over_devices(root: str) -> None:
    dm = SyntheticDataModule(root=root, **SMALL, batch_size=8, num_workers=0)
    dm.trainer = SimpleNamespace(world_size=4)
    dm.setup("fit")
    assert dm.train_dataloader().batch_size == 2 and dm.val_dataloader().batch_size == 2
    bad = SyntheticDataModule(root=root, **SMALL, batch_size=6, num_workers=0)
    bad.trainer = SimpleNamespace(world_size=4)
    with pytest.raises(ValueError, match="batch_size=6 .* world size 4"):
        bad.setup("fit")


def test_train_transform_never_flips(root: str) -> None:
    dm = SyntheticDataModule(root=root, **SMALL, num_workers=0)
    dm.setup("fit")
    steps = [getattr(step, "func", step) for step in dm.train_dataset.transform.transforms]
    # Never, whatever the task: a flip would move the cue into the patterns' half (cue task) or
    # swap "moving left" and "moving right" (motion task); the appear task (tested here, the
    # default) would keep its labels, but is not flipped either.
    assert dm.task == "appear" and SyntheticDataModule.horizontal_flip is False
    assert not {horizontal_flip, random_horizontal_flip} & set(steps)
    assert random_crop in steps and center_crop in [getattr(s, "func", s) for s in dm.val_dataset.transform.transforms]


def test_hparams_saved_without_keeping_caller_frames(root: str) -> None:
    class Marker:
        pass

    def build() -> tuple[weakref.ref, SyntheticDataModule]:
        marker = Marker()
        return weakref.ref(marker), SyntheticDataModule(root=root, **SMALL, batch_size=2)

    gc.disable()  # the caller's locals must be freed by reference counting alone
    try:
        marker_ref, dm = build()
        assert marker_ref() is None
    finally:
        gc.enable()
    assert dm.hparams["batch_size"] == 2 and dm.hparams["root"] == root and dm.hparams["num_frames"] == 8
    assert dm.hparams["task"] == "appear"


def test_generates_into_cache_when_root_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path))
    params = {"num_train": 5, "num_val": 5, "num_frames": 4, "frame_size": 16}
    # The motion task renders 16 px frames (so does the appear task; the cue task needs 24).
    dm = SyntheticDataModule(task="motion", **params, crop_size=16, num_workers=0)
    dm.setup("fit")  # without prepare_data: setup generates what is missing
    assert dm.dataset_dir == tmp_path / "synthetic" / SyntheticParams(task="motion", **params).cache_key()
    assert (dm.dataset_dir / MARKER_NAME).is_file()
    assert len(dm.train_dataset) == 5 and len(dm.val_dataset) == 5
    assert dm.class_names == ["moving up", "moving down", "moving left", "moving right", "staying still"]
    assert json.loads((dm.dataset_dir / "classnames.json").read_text())["staying still"] == 4
    first = json.loads((dm.dataset_dir / "train_meta.jsonl").read_text().splitlines()[0])
    assert "speed" in first and "patterns" not in first
    # The same parameters for the appear task (the default), and for the cue task at 24 px,
    # live in other folders.
    appear = SyntheticDataModule(**params, crop_size=16, num_workers=0)
    cue = SyntheticDataModule(task="cue", **{**params, "frame_size": 24}, crop_size=24, num_workers=0)
    folders = {dm.dataset_dir, appear.dataset_dir, cue.dataset_dir}
    assert len(folders) == 3 and {folder.parent for folder in folders} == {dm.dataset_dir.parent}


def test_fits_with_a_trainer(root: str, tmp_path: Path) -> None:
    class TinyClassifier(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(3, 5)

        def loss(self, batch: dict) -> torch.Tensor:
            assert batch["video"].shape[1:] == (3, 8, 32, 32)
            logits = self.head(batch["video"].mean(dim=(2, 3, 4)))  # (N, C, T, H, W) -> (N, C) -> (N, 5)
            return torch.nn.functional.cross_entropy(logits, batch["label"])

        def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
            return self.loss(batch)

        def validation_step(self, batch: dict, batch_idx: int) -> None:
            self.log("val_loss", self.loss(batch))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = SyntheticDataModule(root=root, **SMALL, batch_size=4, num_workers=0)
    trainer = L.Trainer(
        accelerator="cpu",
        fast_dev_run=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyClassifier(), datamodule=dm)
    assert dm.batch_size_per_device == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0}, "num_frames=0 is invalid: expected an integer >= 2"),
        ({"frame_size": 31}, "frame_size=31 is invalid: expected an even integer >= 16"),
        ({"frame_size": 14, "crop_size": 14}, "frame_size=14 is invalid: expected an even integer >= 16"),
        (
            {"task": "cue", "frame_size": 16, "crop_size": 16},
            "frame_size=16 is invalid: expected >= 24 for task 'cue' "
            "(smallest frame_size per task: appear 16, cue 24, motion 16)",
        ),
        ({"task": "colour"}, "task='colour' is invalid: expected one of 'appear', 'cue', 'motion'"),
        ({"crop_size": 40}, "crop_size=40 is invalid: expected an integer in 1..frame_size=32"),
        ({"crop_size": 0}, "crop_size=0 is invalid"),
        ({"batch_size": 0}, "batch_size=0 is invalid: expected an integer >= 1"),
        ({"num_workers": -1}, "num_workers=-1 is invalid: expected an integer >= 0"),
        ({"num_train": 0}, "num_train=0 is invalid"),
        ({"num_val": 0}, "num_val=0 is invalid"),
        ({"seed": -3}, "seed=-3 is invalid: expected an integer >= 0"),
    ],
)
def test_argument_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        SyntheticDataModule(**kwargs)
