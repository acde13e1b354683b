"""Every video under a folder, unlabelled, for ``atfr predict`` on files a trained model never saw."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from atfr_lightning.data.datamodules.video import VideoDataModule, check_argument
from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord
from atfr_lightning.data.video.clip_dataset import ClipDataset
from atfr_lightning.data.video.decoding import FRAME_EXTENSIONS

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv")


def find_videos(root: Path, *, frame_folders: bool) -> list[Path]:
    """Video files under ``root`` at any depth (sorted), and folders of frame images if asked."""
    videos = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    if frame_folders:
        videos += [
            folder for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]
            if any(child.suffix.lower() in FRAME_EXTENSIONS for child in folder.iterdir() if child.is_file())
        ]
    return sorted(videos)


class VideoFolderDataModule(VideoDataModule):
    """Predict-only datamodule: every video under ``video_root`` (any depth), no labels.

    Items are the val recipe's centre clip (short side ``test_scale``, centre crop) or, with
    ``num_test_clips x num_test_crops > 1``, the test recipe's views; decoding and transforms are
    those of every other datamodule. A file that cannot be read is not replaced: its item
    carries ``"error"`` and the prediction writer gives it an error line.

    Batches: ``{"video": (N, 3, num_frames, crop_size, crop_size), "label": (N,) all -1,
    "video_index", "view_index": (N,), "error": list of N strings ("" when read)}``.

    Args:
        video_root: The folder to search (``.mp4``, ``.avi``, ``.webm``, ``.mkv``, any case).
        frame_folders: Also treat folders of ``.jpg``/``.png`` frames as videos.
        num_frames, sampling_rate, crop_size, test_scale: as the model was trained (the CLI links
            ``num_frames`` and ``crop_size`` into the network).
        num_test_clips, num_test_crops: views per video; predictions average their softmax.
        batch_size, num_workers, decoder: loading.
    """

    def __init__(
        self,
        *,
        video_root: str,
        frame_folders: bool = False,
        num_frames: int = 16,
        sampling_rate: int = 1,
        crop_size: int = 160,
        test_scale: int | None = None,
        num_test_clips: int = 1,
        num_test_crops: int = 1,
        batch_size: int = 8,
        num_workers: int = 2,
        decoder: str = "pyav",
    ) -> None:
        check_argument(
            "video_root",
            video_root,
            isinstance(video_root, str) and Path(video_root).is_dir(),
            "an existing folder of videos",
        )
        scale = crop_size if test_scale is None else test_scale
        super().__init__(
            num_frames=num_frames, sampling_rate=sampling_rate, crop_size=crop_size,
            train_scale=(scale, scale), test_scale=scale, num_test_clips=num_test_clips,
            num_test_crops=num_test_crops, batch_size=batch_size, num_workers=num_workers,
            persistent_workers=False, decoder=decoder,
        )
        self.video_root = Path(video_root)
        self.frame_folders = frame_folders
        self.predict_dataset: ClipDataset | None = None

    @property
    def num_classes(self) -> None:
        """Unknown here: a folder has no labels (the CLI takes the count from the checkpoint)."""
        return None

    def load_class_names(self) -> list[str]:
        return []

    def describe_root(self) -> str:
        return f"under {self.video_root} (extensions {', '.join(VIDEO_EXTENSIONS)})"

    def split_records(self, split: str) -> tuple[list[VideoRecord], list[str] | None]:
        if split != "predict":
            raise AnnotationError(
                f"VideoFolderDataModule has no labels and only a predict split, not {split!r}: use it with `atfr predict`"
            )
        paths = find_videos(self.video_root, frame_folders=self.frame_folders)
        if not paths:
            raise AnnotationError(f"no videos found {self.describe_root()}")
        return [VideoRecord(path=p, label=-1, name=p.relative_to(self.video_root).as_posix()) for p in paths], []

    def setup(self, stage: str | None = None) -> None:
        if stage not in (None, "predict"):
            raise AnnotationError(
                f"VideoFolderDataModule only predicts (stage {stage!r} needs labels): use it with `atfr predict`"
            )
        self._configure_for_trainer()
        if self.predict_dataset is None:
            records, _ = self.split_records("predict")
            multi = self.num_test_clips * self.num_test_crops > 1
            mode = "test" if multi else "val"
            dataset = self.make_dataset(records, mode)
            dataset.replace_unreadable = False
            self.predict_dataset = dataset

    def predict_dataloader(self) -> DataLoader:
        if self.predict_dataset is None:
            self.setup("predict")
        return self._loader(self.predict_dataset, train=False)
