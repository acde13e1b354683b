"""LightningDataModule for the synthetic action dataset (see ``atfr_lightning.data.synthetic``)."""

from __future__ import annotations

import inspect
from pathlib import Path

from atfr_lightning.data.datamodules.video import VideoDataModule, check_argument
from atfr_lightning.data.readers.annotations import VideoRecord
from atfr_lightning.data.readers.path_label import parse_video_list
from atfr_lightning.data.synthetic.generator import (
    MIN_FRAME_SIZE,
    TASKS,
    class_names,
    ensure_synthetic_dataset,
    is_complete,
    synthetic_dataset_dir,
)


class SyntheticDataModule(VideoDataModule):
    """Train/val loaders over the synthetic action dataset, generated on first use.

    ``task`` picks what the clips show (see ``atfr_lightning.data.synthetic``):

    * ``"appear"``, the primary task and the default ("which pattern appears": horizontal
      stripes, vertical stripes, checkerboard, ring, nothing);
    * ``"cue"``, the conjunction task ("which pattern is shown with the cue": the same four
      patterns, cue alone), which the small X3D does not learn within the CPU budget;
    * ``"motion"``, the order-sensitive stress task (direction of the last motion phase:
      moving up, down, left, right, staying still).

    All have 5 classes; :meth:`load_class_names` returns the task's names in label order.

    Batches are dicts::

        {"video": (N, 3, num_frames, crop_size, crop_size) float32, normalised,
         "label": (N,) int64 in 0..4, an index into the task's class names,
         "video_index": (N,) int64, the row in train.csv / val.csv (and *_meta.jsonl),
         "view_index": (N,) int64, always 0 (one view per clip),
         "decode_failures": (N, F) int64, clips skipped for each item (see VideoDataModule)}

    Every frame of a clip is used (sampling rate 1), frames are not rescaled, training
    takes a random crop and never flips, whatever the task, validation the centre crop. A
    flip would change the label's meaning in two tasks: for the cue task it moves the cue into
    the left half, where the patterns are (the halves tell the cue from the pattern); for the
    motion task it swaps "moving left" and "moving right". For the appear task a flip would
    keep the label (a mirrored pattern is the same pattern), but it is not applied either. The
    val split also serves ``test_dataloader`` and ``predict_dataloader`` (one centre view per clip).

    For the appear and cue tasks keep ``crop_size = frame_size`` (the default): a smaller
    random crop can cut the pattern or the cue out of the frame (they sit anywhere in the
    frame, or in the cue task anywhere in their half).

    Args:
        root: Dataset folder; ``None`` uses the cache (``$ATFR_CACHE_DIR`` or
            ``~/.cache/atfr_lightning``) ``/synthetic/<hash of the parameters>``.
        task: ``"appear"`` (primary, the default), ``"cue"`` (conjunction task, not learned by
            the small X3D within the CPU budget) or ``"motion"`` (order-sensitive stress task).
        num_train: Train clips.
        num_val: Val clips.
        num_frames: Frames per clip; every frame is fed to the model.
        frame_size: Height and width of the generated frames (even; >= 16 for the appear and
            motion tasks, >= 24 for the cue task).
        crop_size: Side of the square crop fed to the model (<= frame_size).
        batch_size: Global batch size, divided by ``trainer.world_size`` per device.
        num_workers: DataLoader worker processes per loader.
        seed: Seed of the generated data, of the train order and of the random crops.
        cache_decoded: Keep decoded frames in memory (per worker) across epochs.
        pin_memory: DataLoader ``pin_memory``.
        num_test_clips, num_test_crops: test views per video (clips spread over the video, crops
            along the long side), for multi-view testing as on the real datasets; 1 x 1 by default.
    """

    horizontal_flip = False

    def __init__(
        self,
        *,
        root: str | None = None,
        task: str = "appear",
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
        num_test_clips: int = 1,
        num_test_crops: int = 1,
    ) -> None:
        check_argument("task", task, task in TASKS, f"one of {', '.join(map(repr, TASKS))}")
        check_argument("num_train", num_train, isinstance(num_train, int) and num_train >= 1, "an integer >= 1")
        check_argument("num_val", num_val, isinstance(num_val, int) and num_val >= 1, "an integer >= 1")
        check_argument(
            "num_frames",
            num_frames,
            isinstance(num_frames, int) and num_frames >= 2,
            "an integer >= 2",
        )
        check_argument(
            "frame_size",
            frame_size,
            isinstance(frame_size, int) and frame_size >= 16 and frame_size % 2 == 0,
            "an even integer >= 16 (H.264 yuv420p needs even sizes)",
        )
        smallest = ", ".join(f"{name} {size}" for name, size in MIN_FRAME_SIZE.items())
        check_argument(
            "frame_size",
            frame_size,
            frame_size >= MIN_FRAME_SIZE[task],
            f">= {MIN_FRAME_SIZE[task]} for task {task!r} (smallest frame_size per task: {smallest})",
        )
        check_argument(
            "crop_size",
            crop_size,
            isinstance(crop_size, int) and 1 <= crop_size <= frame_size,
            f"an integer in 1..frame_size={frame_size}",
        )
        super().__init__(
            num_frames=num_frames,
            sampling_rate=1,
            crop_size=crop_size,
            train_scale=(frame_size, frame_size),
            test_scale=frame_size,
            num_test_clips=num_test_clips,
            num_test_crops=num_test_crops,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=True,
            seed=seed,
            cache_decoded=cache_decoded,
        )
        # Passing this frame (never binding it to a local name) avoids Lightning's default,
        # which keeps a reference cycle through the frames of whoever built the datamodule:
        # their locals (DataLoaders with live workers) then wait for the cyclic GC, and a
        # persistent-worker iterator finalised that late stalls 5 s per worker.
        self.save_hyperparameters(frame=inspect.currentframe())
        self.root = root
        self.task = task
        self.num_train = num_train
        self.num_val = num_val
        self.frame_size = frame_size

    def load_class_names(self) -> list[str]:
        return list(class_names(self.task))

    def _params(self) -> dict[str, int | str]:
        return {
            "task": self.task,
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

    def describe_root(self) -> str:
        return f"under {self.dataset_dir} (the generated set)"

    def split_records(self, split: str) -> tuple[list[VideoRecord], None]:
        # Records are named by their path relative to the dataset folder, as the list writes it.
        return parse_video_list(self.dataset_dir / ("train.csv" if split == "train" else "val.csv")), None

    def prepare_data(self) -> None:
        ensure_synthetic_dataset(root=self.root, **self._params())

    def setup(self, stage: str | None = None) -> None:
        if not is_complete(self.dataset_dir, **self._params()):
            # Reached when setup() is called without prepare_data() (plain scripts, tests);
            # under a Trainer, prepare_data() has already generated it.
            self.prepare_data()
        super().setup(stage)
