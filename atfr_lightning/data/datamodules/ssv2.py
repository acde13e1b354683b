"""Something-Something V2 datamodule, reading the official JSON files directly.

Takes the options of :class:`atfr_lightning.data.datamodules.video.VideoDataModule` as keyword
arguments. Relative annotation paths are resolved against ``annotation_dir`` (default:
``video_root``). Labels are always 0-based.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from atfr_lightning.data.datamodules.video import VideoDataModule
from atfr_lightning.data.readers.annotations import VideoRecord, resolve
from atfr_lightning.data.readers.ssv2 import read_ssv2_labels, read_ssv2_split, ssv2_records


class SSv2DataModule(VideoDataModule):
    """Something-Something V2 from the official JSON files; ``.webm`` videos or frame folders.

    The class of an entry is its template without brackets, looked up in the labels file.
    Frames are taken one per segment (``num_frames`` equal segments, PySlowFast's SSv2
    recipe) and never flipped: a flip turns "left to right" into "right to left". The test
    split is the validation split (the official test file has no labels), seen as
    ``num_test_clips x num_test_crops`` views (1 x 3).

    Args:
        video_root: Folder holding ``<id>.webm`` files or ``<id>/`` frame folders.
        labels_file: ``something-something-v2-labels.json``.
        train_annotations: ``something-something-v2-train.json``.
        val_annotations: ``something-something-v2-validation.json``.
        annotation_dir: Folder relative annotation paths start from; ``None`` is ``video_root``.
        num_frames: Segments (= frames) per clip.
        num_test_clips: Temporal views per test video (frame offsets inside the segments).
        **kwargs: Options of :class:`VideoDataModule` (``sampling_rate`` does not apply).
    """

    horizontal_flip = False
    temporal_sampling = "segments"

    def __init__(
        self,
        *,
        video_root: str,
        labels_file: str = "something-something-v2-labels.json",
        train_annotations: str = "something-something-v2-train.json",
        val_annotations: str = "something-something-v2-validation.json",
        annotation_dir: str | None = None,
        num_frames: int = 16,
        num_test_clips: int = 1,
        **kwargs: Any,
    ) -> None:
        if "sampling_rate" in kwargs:
            raise ValueError(
                f"sampling_rate={kwargs['sampling_rate']!r} does not apply to SSv2: clips take one frame from each "
                "of num_frames equal segments"
            )
        super().__init__(num_frames=num_frames, sampling_rate=1, num_test_clips=num_test_clips, **kwargs)
        self.save_hyperparameters(frame=inspect.currentframe())
        self.video_root = Path(video_root)
        base = Path(annotation_dir) if annotation_dir is not None else self.video_root
        self.labels_file = resolve(base, labels_file)
        self.annotations = {"train": resolve(base, train_annotations), "val": resolve(base, val_annotations)}
        self._labels: dict[str, int] | None = None

    def _label_map(self) -> dict[str, int]:
        if self._labels is None:
            self._labels = read_ssv2_labels(self.labels_file)
        return self._labels

    def load_class_names(self) -> list[str]:
        labels = self._label_map()
        return sorted(labels, key=labels.__getitem__)

    def describe_root(self) -> str:
        return f"in {self.video_root} as <id>.webm or <id>/ frame folders"

    def split_records(self, split: str) -> tuple[list[VideoRecord], None]:
        items = read_ssv2_split(self.annotations["train" if split == "train" else "val"], labels=self._label_map())
        return ssv2_records(items, video_root=self.video_root), None
