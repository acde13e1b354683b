"""HMDB51 datamodule, reading the official ``testTrainMulti_7030_splits`` files directly.

Takes the options of :class:`atfr_lightning.data.datamodules.video.VideoDataModule` as keyword
arguments. Labels are always 0-based.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from atfr_lightning.data.datamodules.video import VideoDataModule
from atfr_lightning.data.readers.annotations import VideoRecord
from atfr_lightning.data.readers.hmdb51 import hmdb51_class_names, read_hmdb51_split
from atfr_lightning.data.readers.ucf101 import check_split


class HMDB51DataModule(VideoDataModule):
    """HMDB51 from the official split files (``testTrainMulti_7030_splits``), split 1, 2 or 3.

    Train is tag 1 of ``<class>_test_split<split>.txt``, validation and test tag 2; the class
    is the split file's name, classes sorted and 0-based.

    Args:
        video_root: Folder of ``<class>/<video>.avi``.
        annotation_dir: The folder of the 153 split files.
        split: Official split, 1, 2 or 3.
        **kwargs: Options of :class:`VideoDataModule`.
    """

    def __init__(self, *, video_root: str, annotation_dir: str, split: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_split(split, "HMDB51")
        self.save_hyperparameters(frame=inspect.currentframe())
        self.video_root = Path(video_root)
        self.annotation_dir = Path(annotation_dir)
        self.split = split
        self._splits: dict[str, list[VideoRecord]] | None = None

    def load_class_names(self) -> list[str]:
        return hmdb51_class_names(self.annotation_dir, split=self.split)

    def describe_root(self) -> str:
        return f"in {self.video_root}/<class>/"

    def split_records(self, split: str) -> tuple[list[VideoRecord], None]:
        if self._splits is None:
            self._splits = read_hmdb51_split(self.annotation_dir, split=self.split, video_root=self.video_root)
        return self._splits["train" if split == "train" else "test"], None
