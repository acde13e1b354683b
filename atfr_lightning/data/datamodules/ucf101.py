"""UCF101 datamodule, reading the official ``ucfTrainTestlist`` files directly.

Takes the options of :class:`atfr_lightning.data.datamodules.video.VideoDataModule` as keyword
arguments. Labels are always 0-based.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from atfr_lightning.data.datamodules.video import VideoDataModule
from atfr_lightning.data.readers.annotations import VideoRecord
from atfr_lightning.data.readers.ucf101 import check_split, read_class_index, read_ucf101_split


class UCF101DataModule(VideoDataModule):
    """UCF101 from the official split files (``ucfTrainTestlist``), split 1, 2 or 3.

    Train is ``trainlist0<split>.txt``; validation and test are ``testlist0<split>.txt``
    (UCF101 has no separate validation set). Labels come from the class folder of each path
    via ``classInd.txt``, 0-based.

    Args:
        video_root: The ``UCF-101`` folder (``<Class>/v_<Class>_gGG_cCC.avi``).
        annotation_dir: The ``ucfTrainTestlist`` folder.
        split: Official split, 1, 2 or 3.
        **kwargs: Options of :class:`VideoDataModule`.
    """

    def __init__(self, *, video_root: str, annotation_dir: str, split: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_split(split, "UCF101")
        self.save_hyperparameters(frame=inspect.currentframe())
        self.video_root = Path(video_root)
        self.annotation_dir = Path(annotation_dir)
        self.split = split
        self._classes: dict[str, int] | None = None

    def _class_map(self) -> dict[str, int]:
        if self._classes is None:
            self._classes = read_class_index(self.annotation_dir / "classInd.txt")
        return self._classes

    def load_class_names(self) -> list[str]:
        classes = self._class_map()
        return sorted(classes, key=classes.__getitem__)

    def describe_root(self) -> str:
        return f"in {self.video_root}/<Class>/"

    def split_records(self, split: str) -> tuple[list[VideoRecord], None]:
        name = f"trainlist0{self.split}.txt" if split == "train" else f"testlist0{self.split}.txt"
        return read_ucf101_split(
            self.annotation_dir / name, classes=self._class_map(), video_root=self.video_root
        ), None
