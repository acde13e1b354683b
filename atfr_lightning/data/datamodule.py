"""LightningDataModule for the synthetic action dataset (see ``atfr_lightning.data.synthetic``)."""

from __future__ import annotations

import inspect
from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from atfr_lightning.data.synthetic import (
    CLASS_NAMES,
    ensure_synthetic_dataset,
    is_complete,
    synthetic_dataset_dir,
)
from atfr_lightning.data.transforms import (
    KINETICS_MEAN,
    KINETICS_STD,
    Compose,
    center_crop,
    normalize,
    random_crop,
    short_side_scale,
)
from atfr_lightning.data.video_dataset import VideoDataset


def _check(name: str, value: object, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")


class SyntheticDataModule(L.LightningDataModule):
    """Train/val loaders over the synthetic action dataset, generated on first use.

    Batches are dicts::

        {"video": (N, 3, num_frames, crop_size, crop_size) float32, normalised,
         "label": (N,) int64 in 0..4,
         "video_index": (N,) int64, the row in train.csv / val.csv (and *_meta.jsonl)}

    The val split also serves ``test_dataloader`` and ``predict_dataloader``.

    Args:
        root: Dataset folder; ``None`` uses the cache (``$ATFR_CACHE_DIR`` or
            ``~/.cache/atfr_lightning``) ``/synthetic/<hash of the parameters>``.
        num_train: Train clips.
        num_val: Val clips.
        num_frames: Frames per clip; every frame is fed to the model.
        frame_size: Height and width of the generated frames (even, >= 16).
        crop_size: Side of the square crop fed to the model (<= frame_size).
        batch_size: Global batch size, divided by ``trainer.world_size`` per device.
        num_workers: DataLoader worker processes per loader.
        seed: Seed of the generated data and of the train shuffling order.
        cache_decoded: Keep decoded frames in memory (per worker) across epochs.
        pin_memory: DataLoader ``pin_memory``.
    """

    def __init__(
        self,
        *,
        root: str | None = None,
        num_train: int = 1500,
        num_val: int = 500,
        num_frames: int = 16,
        frame_size: int = 32,
        crop_size: int = 32,
        batch_size: int = 32,
        num_workers: int = 2,
        seed: int = 0,
        cache_decoded: bool = True,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        _check("num_train", num_train, isinstance(num_train, int) and num_train >= 1, "an integer >= 1")
        _check("num_val", num_val, isinstance(num_val, int) and num_val >= 1, "an integer >= 1")
        _check(
            "num_frames",
            num_frames,
            isinstance(num_frames, int) and num_frames >= 2,
            "an integer >= 2 (motion needs two frames)",
        )
        _check(
            "frame_size",
            frame_size,
            isinstance(frame_size, int) and frame_size >= 16 and frame_size % 2 == 0,
            "an even integer >= 16 (H.264 yuv420p needs even sizes)",
        )
        _check(
            "crop_size",
            crop_size,
            isinstance(crop_size, int) and 1 <= crop_size <= frame_size,
            f"an integer in 1..frame_size={frame_size}",
        )
        _check("batch_size", batch_size, isinstance(batch_size, int) and batch_size >= 1, "an integer >= 1")
        _check("num_workers", num_workers, isinstance(num_workers, int) and num_workers >= 0, "an integer >= 0")
        _check("seed", seed, isinstance(seed, int) and seed >= 0, "an integer >= 0")
        # Passing this frame (never binding it to a local name) avoids Lightning's default,
        # which keeps a reference cycle through the frames of whoever built the datamodule:
        # their locals (DataLoaders with live workers) then wait for the cyclic GC, and a
        # persistent-worker iterator finalised that late stalls 5 s per worker.
        self.save_hyperparameters(frame=inspect.currentframe())
        self.root = root
        self.num_train = num_train
        self.num_val = num_val
        self.num_frames = num_frames
        self.frame_size = frame_size
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.cache_decoded = cache_decoded
        self.pin_memory = pin_memory
        self.batch_size_per_device = batch_size
        self.train_dataset: VideoDataset | None = None
        self.val_dataset: VideoDataset | None = None

    @property
    def num_classes(self) -> int:
        """Number of classes (5)."""
        return len(CLASS_NAMES)

    @property
    def class_names(self) -> list[str]:
        """Class names in label order (index 0 is "moving up")."""
        return list(CLASS_NAMES)

    def _params(self) -> dict[str, int]:
        return {
            "num_train": self.num_train,
            "num_val": self.num_val,
            "num_frames": self.num_frames,
            "frame_size": self.frame_size,
            "seed": self.seed,
        }

    @property
    def dataset_dir(self) -> Path:
        """Folder holding (or about to hold) the generated dataset."""
        return synthetic_dataset_dir(root=self.root, **self._params())

    def prepare_data(self) -> None:
        ensure_synthetic_dataset(root=self.root, **self._params())

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is not None:
            world_size = self.trainer.world_size
            if self.batch_size % world_size:
                raise ValueError(
                    f"batch_size={self.batch_size} is the global batch and must be divisible by the "
                    f"world size {world_size}: use a multiple of {world_size}"
                )
            self.batch_size_per_device = self.batch_size // world_size
        if not is_complete(self.dataset_dir, **self._params()):
            # Reached when setup() is called without prepare_data() (plain scripts, tests);
            # under a Trainer, prepare_data() has already generated it.
            self.prepare_data()
        root = self.dataset_dir
        normalize_kinetics = partial(normalize, mean=KINETICS_MEAN, std=KINETICS_STD)
        if stage in (None, "fit") and self.train_dataset is None:
            self.train_dataset = VideoDataset(
                list_path=root / "train.csv",
                num_frames=self.num_frames,
                train=True,
                # No horizontal flip: it turns "moving left" into "moving right" without
                # changing the label, which would teach the model to ignore that direction.
                transform=Compose(
                    [
                        partial(short_side_scale, size=self.frame_size),
                        partial(random_crop, size=self.crop_size),
                        normalize_kinetics,
                    ]
                ),
                cache_decoded=self.cache_decoded,
            )
        if self.val_dataset is None:
            self.val_dataset = VideoDataset(
                list_path=root / "val.csv",
                num_frames=self.num_frames,
                train=False,
                transform=Compose(
                    [
                        partial(short_side_scale, size=self.frame_size),
                        partial(center_crop, size=self.crop_size),
                        normalize_kinetics,
                    ]
                ),
                cache_decoded=self.cache_decoded,
            )

    def _loader(self, dataset: VideoDataset | None, *, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size_per_device,
            shuffle=shuffle,
            # A seeded generator fixes the shuffling order and the workers' base seeds (and so
            # the random crops) independently of anything else drawn from torch's global RNG.
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)
