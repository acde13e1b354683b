"""The datamodule all datasets share: splits -> ClipDatasets, the clip recipe, loaders, reports.

A dataset family only says where its videos and labels are (:meth:`VideoDataModule.split_records`)
and what its classes are (:meth:`VideoDataModule.load_class_names`); everything else
(sampling, transforms, missing-video report, DDP batch split, loaders) lives here.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from atfr_lightning.data.datamodules.decode_failures import DecodeFailureSummary
from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord
from atfr_lightning.data.video.clip_dataset import ClipDataset, collate_clips
from atfr_lightning.data.video.decoding import check_decoder
from atfr_lightning.data.video.resumable_loader import ResumableDataLoader
from atfr_lightning.data.video.samplers import EpochShuffleSampler, ShardedEvalSampler
from atfr_lightning.data.video.temporal_sampling import Mode, TemporalSampling
from atfr_lightning.data.video.transforms import (
    KINETICS_MEAN,
    KINETICS_STD,
    Compose,
    VideoTransform,
    center_crop,
    normalize,
    random_crop,
    random_horizontal_flip,
    random_short_side_scale,
    short_side_scale,
    uniform_crop,
)

# Missing files named in one warning; all of them are in ``missing_videos``.
_SHOWN = 10


def check_argument(name: str, value: object, ok: bool, expected: str) -> None:
    """``ValueError("<name>=<value> is invalid: expected <expected>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    check_argument(
        name,
        value,
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        f"an integer >= {minimum}",
    )


class VideoDataModule(L.LightningDataModule):
    """Base of the dataset datamodules: train / val / test loaders of :class:`ClipDataset` views.

    Batches are dicts::

        {"video": (N, 3, num_frames, crop_size, crop_size) float32, normalised,
         "label": (N,) int64, 0-based,
         "video_index": (N,) int64, the video's row in the split's records,
         "view_index": (N,) int64, clip * num_test_crops + crop (0 in train / val),
         "decode_failures": (N, F) int64, videos skipped for each item, -1 padded}

    The recipe (PySlowFast's X3D / SlowFast one): training takes a random clip, a random
    short side in ``train_scale``, a random ``crop_size`` crop and (where the dataset allows
    it) a horizontal flip; validation the centre clip, short side ``test_scale`` and the
    centre crop; test ``num_test_clips x num_test_crops`` views per video (clips spread over
    the video, crops along the long side), to be aggregated per video by
    :class:`atfr_lightning.callbacks.MultiViewTestAccuracy`. Predict uses the val views.

    The training order comes from :class:`EpochShuffleSampler` (``(seed, epoch)``) and each
    item's randomness from ``(seed, epoch, index)``: the same data in the same order whatever
    the number of workers, and after a resume. Videos listed but absent on disk are dropped
    at ``setup`` and reported (``missing_videos``); unreadable ones are replaced and reported
    at the end of each epoch by :class:`DecodeFailureSummary`, added to the trainer here.

    Args:
        num_frames: Frames per clip, ``T``.
        sampling_rate: Spacing of the clip's frames in the source video.
        crop_size: Side of the square crops (train and test).
        train_scale: ``[min, max]`` short side drawn in training.
        test_scale: Short side before validation / test crops; ``None`` is ``crop_size``.
        num_test_clips: Temporal views per test video.
        num_test_crops: Spatial views per test video (1 = centre, 3 = PySlowFast's 3 crops).
        batch_size: Global batch size, divided by ``trainer.world_size`` per device.
        num_workers: DataLoader worker processes per loader.
        pin_memory: DataLoader ``pin_memory`` (for GPUs).
        persistent_workers: Keep workers (and their decoded caches) alive across epochs.
        seed: Seed of the training order and of the random clips and crops.
        decoder: ``"pyav"``, ``"pytorchvideo"`` or ``"decord"`` (see ``data.decoding``).
        cache_decoded: Keep decoded videos in memory in each worker (small sets only).
    """

    # Subclasses override these for datasets whose labels forbid a flip or that sample segments.
    horizontal_flip: ClassVar[bool] = True
    temporal_sampling: ClassVar[TemporalSampling] = "window"

    def __init__(
        self,
        *,
        num_frames: int = 13,
        sampling_rate: int = 6,
        crop_size: int = 160,
        train_scale: tuple[int, int] = (182, 228),
        test_scale: int | None = None,
        num_test_clips: int = 10,
        num_test_crops: int = 3,
        batch_size: int = 32,
        num_workers: int = 4,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        seed: int = 0,
        decoder: str = "pyav",
        cache_decoded: bool = False,
    ) -> None:
        super().__init__()
        _positive_int("num_frames", num_frames)
        _positive_int("sampling_rate", sampling_rate)
        _positive_int("crop_size", crop_size)
        train_scale = tuple(train_scale)
        check_argument(
            "train_scale",
            train_scale,
            len(train_scale) == 2
            and all(isinstance(s, int) for s in train_scale)
            and crop_size <= train_scale[0] <= train_scale[1],
            f"[min, max] integers with crop_size={crop_size} <= min <= max",
        )
        test_scale = crop_size if test_scale is None else test_scale
        check_argument(
            "test_scale",
            test_scale,
            isinstance(test_scale, int) and test_scale >= crop_size,
            f"an integer >= crop_size={crop_size}",
        )
        _positive_int("num_test_clips", num_test_clips)
        check_argument(
            "num_test_crops",
            num_test_crops,
            num_test_crops in (1, 2, 3),
            "1 (centre), 2 or 3 crops along the long side",
        )
        _positive_int("batch_size", batch_size)
        _positive_int("num_workers", num_workers, minimum=0)
        _positive_int("seed", seed, minimum=0)
        check_decoder(decoder)
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.crop_size = crop_size
        self.train_scale = train_scale
        self.test_scale = test_scale
        self.num_test_clips = num_test_clips
        self.num_test_crops = num_test_crops
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.seed = seed
        self.decoder = decoder
        self.cache_decoded = cache_decoded
        self.batch_size_per_device = batch_size
        self.train_dataset: ClipDataset | None = None
        self.val_dataset: ClipDataset | None = None
        self.test_dataset: ClipDataset | None = None
        self.missing_videos: dict[str, list[str]] = {}
        self._class_names: list[str] | None = None

    # ----- what a dataset family provides -------------------------------------------------
    def split_records(self, split: str) -> tuple[list[VideoRecord], list[str] | None]:
        """Records of ``"train"``, ``"val"`` or ``"test"``, and names of listed videos not found.

        ``None`` instead of the names means "not checked": then every record's path is
        checked here.
        """
        raise NotImplementedError

    def load_class_names(self) -> list[str]:
        """Class names in label order."""
        raise NotImplementedError

    def describe_root(self) -> str:
        """Where videos are expected (for the error when none is found)."""
        raise NotImplementedError

    # ----- classes --------------------------------------------------------------------------
    @property
    def class_names(self) -> list[str]:
        """Class names in label order (read from the annotations on first use)."""
        if self._class_names is None:
            self._class_names = list(self.load_class_names())
        return list(self._class_names)

    @property
    def num_classes(self) -> int:
        """Number of classes K (labels are 0..K-1)."""
        return len(self.class_names)

    # ----- recipe ---------------------------------------------------------------------------
    def transform(self, mode: Mode) -> VideoTransform:
        """The spatial pipeline of ``mode`` on ``(C, T, H, W)`` float clips in ``[0, 1]``."""
        normalize_kinetics = partial(normalize, mean=KINETICS_MEAN, std=KINETICS_STD)
        if mode == "train":
            low, high = self.train_scale
            # A fixed scale needs no draw (and keeps frames already at that size untouched).
            scale = (
                partial(short_side_scale, size=low)
                if low == high
                else partial(random_short_side_scale, min_size=low, max_size=high)
            )
            steps: list[VideoTransform] = [scale, partial(random_crop, size=self.crop_size)]
            if self.horizontal_flip:
                steps.append(random_horizontal_flip)
            return Compose([*steps, normalize_kinetics])
        crop = (
            partial(center_crop, size=self.crop_size) if mode == "val" else partial(uniform_crop, size=self.crop_size)
        )
        return Compose([partial(short_side_scale, size=self.test_scale), crop, normalize_kinetics])

    def make_dataset(self, records: list[VideoRecord], mode: Mode) -> ClipDataset:
        """A :class:`ClipDataset` of ``records`` with this datamodule's recipe for ``mode``."""
        test = mode == "test"
        return ClipDataset(
            records=records,
            mode=mode,
            num_frames=self.num_frames,
            sampling_rate=self.sampling_rate,
            temporal_sampling=self.temporal_sampling,
            num_clips=self.num_test_clips if test else 1,
            num_crops=self.num_test_crops if test else 1,
            transform=self.transform(mode),
            decoder=self.decoder,
            seed=self.seed,
            cache_decoded=self.cache_decoded,
        )

    # ----- setup ----------------------------------------------------------------------------
    def _present(self, split: str) -> list[VideoRecord]:
        records, missing = self.split_records(split)
        if missing is None:
            present = [r for r in records if r.path.exists()]
            missing = [r.name for r in records if not r.path.exists()]
            records = present
        self.missing_videos[split] = missing
        if not records:
            raise AnnotationError(
                f"{type(self).__name__}: none of the {len(missing)} videos listed for the {split} split was found; "
                f"expected them {self.describe_root()}. Check the video root and the annotation files."
            )
        if missing:
            shown = ", ".join(missing[:_SHOWN]) + (
                f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
            )
            rank_zero_warn(
                f"{type(self).__name__} {split}: {len(missing)} of {len(missing) + len(records)} listed videos are "
                f"missing and left out ({shown}); the full list is in datamodule.missing_videos[{split!r}]"
            )
        return records

    def _attach_failure_summary(self) -> None:
        trainer = self.trainer
        if trainer is None or not isinstance(getattr(trainer, "callbacks", None), list):
            return
        if not any(isinstance(callback, DecodeFailureSummary) for callback in trainer.callbacks):
            trainer.callbacks.append(DecodeFailureSummary())

    def setup(self, stage: str | None = None) -> None:
        self._configure_for_trainer()
        if stage in (None, "fit"):
            self._dataset("train")
        if stage in (None, "fit", "validate", "predict"):
            self._dataset("val")
        if stage in (None, "test"):
            self._dataset("test")

    def _configure_for_trainer(self) -> None:
        """The per-device batch and the decode-failure report, once a trainer holds the datamodule."""
        if self.trainer is not None:
            world_size = self.trainer.world_size
            if self.batch_size % world_size:
                raise ValueError(
                    f"batch_size={self.batch_size} is the global batch and must be divisible by the "
                    f"world size {world_size}: use a multiple of {world_size}"
                )
            self.batch_size_per_device = self.batch_size // world_size
            self._attach_failure_summary()

    def _dataset(self, split: str) -> ClipDataset:
        """The split's dataset, built on first use (so a loader works after any ``setup``)."""
        dataset = getattr(self, f"{split}_dataset")
        if dataset is None:
            dataset = self.make_dataset(self._present(split), split)
            setattr(self, f"{split}_dataset", dataset)
        return dataset

    # ----- loaders --------------------------------------------------------------------------
    def _loader(self, dataset: ClipDataset, *, train: bool) -> DataLoader:
        sampler = None
        trainer = self.trainer
        world, rank = getattr(trainer, "world_size", 1), getattr(trainer, "global_rank", 0)
        if train:
            sampler = EpochShuffleSampler(dataset, num_replicas=world, rank=rank, seed=self.seed)
        elif world > 1:
            sampler = ShardedEvalSampler(dataset, num_replicas=world, rank=rank)
        loader = (ResumableDataLoader if train else DataLoader)(
            dataset,
            batch_size=self.batch_size_per_device,
            sampler=sampler,
            shuffle=False,
            collate_fn=collate_clips,
            num_workers=self.num_workers,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            pin_memory=self.pin_memory,
            # Its own generator for the workers' base seed: creating an iterator then leaves the
            # global generator (dropout) alone, so a resumed run's draws match the uninterrupted one.
            generator=torch.Generator().manual_seed(self.seed),
        )
        if train:
            loader.resume_point = self._resume_point
        return loader

    def _resume_point(self, batches_per_epoch: int) -> tuple[int, int]:
        """(epoch, batches of it already trained) of the restored fit loop, for a resumed run."""
        fit_loop = self.trainer.fit_loop
        epoch = fit_loop.epoch_progress.current.processed
        done = fit_loop.epoch_loop.batch_progress.current.processed
        limit = self.trainer.limit_train_batches
        if isinstance(limit, float):
            batches_per_epoch = int(batches_per_epoch * limit)
        elif isinstance(limit, int):
            batches_per_epoch = min(batches_per_epoch, limit)
        if done >= batches_per_epoch:  # saved after the epoch's last batch: the next epoch starts afresh
            return epoch + 1, 0
        return epoch, done

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("train"), train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val"), train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("test"), train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val"), train=False)
