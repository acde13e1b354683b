"""Kinetics-400 / 600 / 700 and mini-Kinetics-200 datamodules, reading the official files directly.

Both share :class:`atfr_lightning.data.datamodules.video.VideoDataModule` (recipe, loaders,
reports) and take its options (``num_frames``, ``crop_size``, ``batch_size``, ...) as keyword
arguments. Relative annotation paths are resolved against ``annotation_dir`` (default:
``video_root``). Labels are always 0-based.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path
from typing import Any

from atfr_lightning.data.datamodules.video import VideoDataModule, check_argument
from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord, require_dir, resolve
from atfr_lightning.data.readers.kinetics import (
    KineticsAnnotation,
    class_index,
    folder_per_class_records,
    index_video_files,
    kinetics_records,
    mini_kinetics_annotations,
    read_kinetics_csv,
)
from atfr_lightning.data.readers.path_label import parse_video_list

KINETICS_FORMATS: tuple[str, ...] = ("csv", "path_label", "folders")


class KineticsDataModule(VideoDataModule):
    """Kinetics-400 / 600 / 700 from the official CSVs, a ``path label`` list, or class folders.

    ``annotation_format``:

    * ``"csv"``: the official ``train.csv`` / ``validate.csv``; clips are found by file name
      (``<youtube_id>_<start:06d>_<end:06d>.<ext>``) anywhere under ``video_root``; classes
      are the sorted label names of the train CSV.
    * ``"path_label"``: PySlowFast lists ``<path> <0-based label>`` (paths relative to
      ``video_root``); ``num_classes`` is the largest train label + 1.
    * ``"folders"``: ``<annotations>/<class name>/<video>`` where the ``*_annotations``
      arguments name the split folders; classes are the sorted train folder names.

    Listed videos that are not on disk are left out and reported (``missing_videos``). The
    test split is the val split unless ``test_annotations`` is given (Kinetics test labels
    are not public), seen as ``num_test_clips x num_test_crops`` views (10 x 3).

    Args:
        video_root: Folder holding the videos.
        train_annotations: Train CSV / list / split folder.
        val_annotations: Validation CSV / list / split folder.
        test_annotations: Test CSV / list / split folder; ``None`` uses ``val_annotations``.
        annotation_format: ``"csv"``, ``"path_label"`` or ``"folders"``.
        annotation_dir: Folder relative annotation paths start from; ``None`` is ``video_root``.
        **kwargs: Options of :class:`VideoDataModule` (``num_frames``, ``batch_size``, ...).
    """

    def __init__(
        self,
        *,
        video_root: str,
        train_annotations: str = "train.csv",
        val_annotations: str = "validate.csv",
        test_annotations: str | None = None,
        annotation_format: str = "csv",
        annotation_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_argument(
            "annotation_format", annotation_format, annotation_format in KINETICS_FORMATS, f"one of {KINETICS_FORMATS}"
        )
        self.save_hyperparameters(frame=inspect.currentframe())
        self.video_root = Path(video_root)
        self.annotation_format = annotation_format
        base = Path(annotation_dir) if annotation_dir is not None else self.video_root
        self.annotations = {
            "train": resolve(base, train_annotations),
            "val": resolve(base, val_annotations),
            "test": resolve(base, test_annotations if test_annotations is not None else val_annotations),
        }
        self._csv_rows: dict[Path, list[KineticsAnnotation]] = {}
        self._video_files: dict[str, Path] | None = None

    def _rows(self, split: str) -> list[KineticsAnnotation]:
        path = self.annotations[split]
        if path not in self._csv_rows:
            self._csv_rows[path] = read_kinetics_csv(path)
        return self._csv_rows[path]

    def load_class_names(self) -> list[str]:
        if self.annotation_format == "csv":
            return list(class_index(row.label for row in self._rows("train")))
        if self.annotation_format == "folders":
            train = require_dir(self.annotations["train"], "Kinetics train split folder")
            return sorted(p.name for p in train.iterdir() if p.is_dir())
        labels = [entry.label for entry in parse_video_list(self.annotations["train"], video_root=self.video_root)]
        return [str(label) for label in range(max(labels) + 1)]

    def describe_root(self) -> str:
        if self.annotation_format == "csv":
            example = self.video_root / "train" / "<label>"
            return f"under {self.video_root} as <youtube_id>_<start:06d>_<end:06d>.mp4 (e.g. in {example}/)"
        if self.annotation_format == "folders":
            return f"in {self.annotations['train']}/<class name>/"
        return f"at the paths of the lists, relative to {self.video_root}"

    def split_records(self, split: str) -> tuple[list[VideoRecord], list[str] | None]:
        if self.annotation_format == "csv":
            if self._video_files is None:
                self._video_files = index_video_files(self.video_root)
            classes = {name: index for index, name in enumerate(self.class_names)}
            return kinetics_records(self._rows(split), classes=classes, videos=self._video_files)
        if self.annotation_format == "folders":
            classes = {name: index for index, name in enumerate(self.class_names)}
            return folder_per_class_records(self.annotations[split], classes=classes), None
        records = parse_video_list(self.annotations[split], video_root=self.video_root)
        _check_labels(records, self.num_classes, self.annotations[split])
        # Named by their full path in the missing-video report.
        return [replace(record, name=str(record.path)) for record in records], None


def _check_labels(records: list[VideoRecord], num_classes: int, source: Path) -> None:
    for position, entry in enumerate(records):
        if entry.label >= num_classes:
            raise AnnotationError(
                f"{source}: entry {position + 1} ({entry.path}) has label {entry.label}, expected 0..{num_classes - 1} "
                f"(the labels of the train list)"
            )


class MiniKineticsDataModule(VideoDataModule):
    """mini-Kinetics-200: the two official YouTube-id lists joined with the K400 CSVs.

    Each id is looked up in the K400 annotations (train and validate CSVs together) for its
    label and clip times, and its clip found under ``video_root`` like
    :class:`KineticsDataModule` (``"csv"`` format) does. The classes of the train ids are
    re-indexed 0..199 in sorted order. Ids absent from the annotations or from the disk are
    left out and reported. Test uses the val ids.

    Args:
        video_root: Folder holding the K400 videos.
        kinetics_annotations: The K400 annotation CSVs to join with.
        train_ids: The train id list (``train_ytid_list.txt``, 80,000 ids).
        val_ids: The val id list (``val_ytid_list.txt``, 5,000 ids).
        annotation_dir: Folder relative annotation paths start from; ``None`` is ``video_root``.
        **kwargs: Options of :class:`VideoDataModule`.
    """

    def __init__(
        self,
        *,
        video_root: str,
        kinetics_annotations: list[str] | None = None,
        train_ids: str = "train_ytid_list.txt",
        val_ids: str = "val_ytid_list.txt",
        annotation_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(frame=inspect.currentframe())
        self.video_root = Path(video_root)
        base = Path(annotation_dir) if annotation_dir is not None else self.video_root
        csvs = kinetics_annotations if kinetics_annotations is not None else ["train.csv", "validate.csv"]
        self.kinetics_annotations = [resolve(base, path) for path in csvs]
        self.id_lists = {"train": resolve(base, train_ids), "val": resolve(base, val_ids)}
        self._joined: dict[str, tuple[list[KineticsAnnotation], list[str]]] = {}
        self._all_rows: list[KineticsAnnotation] | None = None
        self._video_files: dict[str, Path] | None = None

    def _join(self, split: str) -> tuple[list[KineticsAnnotation], list[str]]:
        id_list = self.id_lists["train" if split == "train" else "val"]
        if id_list not in self._joined:
            if self._all_rows is None:
                self._all_rows = [row for path in self.kinetics_annotations for row in read_kinetics_csv(path)]
            self._joined[id_list] = mini_kinetics_annotations(id_list, self._all_rows)
        return self._joined[id_list]

    def load_class_names(self) -> list[str]:
        return list(class_index(row.label for row in self._join("train")[0]))

    def describe_root(self) -> str:
        return f"under {self.video_root} as <youtube_id>_<start:06d>_<end:06d>.mp4"

    def split_records(self, split: str) -> tuple[list[VideoRecord], list[str]]:
        rows, absent = self._join(split)
        if self._video_files is None:
            self._video_files = index_video_files(self.video_root)
        classes = {name: index for index, name in enumerate(self.class_names)}
        records, missing = kinetics_records(rows, classes=classes, videos=self._video_files)
        return records, [f"{youtube_id} (not in the Kinetics annotations)" for youtube_id in absent] + missing
