"""The synthetic action dataset's generator: three tasks, one set of files, cached and generated on demand.

Three tasks render the clips (``task`` in :class:`SyntheticParams`); all have 5 balanced classes:

* ``"appear"`` (primary and default, :mod:`atfr_lightning.data.synthetic.appear`): "which
  pattern appears". On a static background a textured patch (stripes, checkerboard, ring)
  appears once for 1 to ``T`` frames, or nothing does; class-neutral distractors and a background
  cut add change that carries no label. The label is a function of the set of frames, never
  of their order, so SGS (a set function of its slices) can represent it, while a uniform
  subsampling misses a 1-frame event.
* ``"cue"`` (conjunction, :mod:`atfr_lightning.data.synthetic.cue`): "which pattern is shown
  with the cue". Patterns follow each other in the left half, a disk flashes once in the right
  half; the label is the pattern shown while the disk is, or "cue alone". Also order-free, but
  harder: the small X3D of ``experiments/synthetic`` does not learn it within the CPU budget
  (train loss stays at chance), so it is kept as a GPU-scale task.
* ``"motion"`` (stress, :mod:`atfr_lightning.data.synthetic.motion`): the direction of the
  clip's *last* motion phase. It depends on the order of the phases, which SGS discards: kept
  as an order-sensitive stress task.

This module holds what the tasks share: the parameters and their cache key, the balanced labels,
the seeding of each clip, H.264 writing, the lists, the side-car metadata, atomic generation
and the command line. On disk the set looks like a small Kinetics copy read through
PySlowFast-style lists::

    root/
      videos/train/train_00000.mp4 ...   H.264 (libx264, yuv420p), num_frames frames at fps
      videos/val/val_00000.mp4 ...
      train.csv, val.csv                 "<relative path> <label>" per line, 0-based labels
      classnames.json                    {"horizontal stripes": 0, ...} (the task's classes)
      train_meta.jsonl, val_meta.jsonl   per-clip side-car metadata, never read for training
      complete.json                      completion marker holding the generation parameters

Generate it with :func:`ensure_synthetic_dataset` (cached, atomic) or from a shell::

    python -m atfr_lightning.data.synthetic --root DIR [--task appear|cue|motion --num-train N --num-val N ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from atfr_lightning.data.synthetic.appear import APPEAR_CLASS_NAMES, APPEAR_MIN_FRAME_SIZE, make_appear_clip
from atfr_lightning.data.synthetic.cue import CUE_CLASS_NAMES, CUE_MIN_FRAME_SIZE, make_cue_clip
from atfr_lightning.data.synthetic.motion import MOTION_CLASS_NAMES, make_motion_clip

TASKS: tuple[str, ...] = ("appear", "cue", "motion")
_CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "appear": APPEAR_CLASS_NAMES,
    "cue": CUE_CLASS_NAMES,
    "motion": MOTION_CLASS_NAMES,
}
# Smallest frame_size each task renders (the cue task needs room for a pattern and the cue side
# by side); none is below 16, the smallest size SyntheticParams accepts for any task.
MIN_FRAME_SIZE: dict[str, int] = {"appear": APPEAR_MIN_FRAME_SIZE, "cue": CUE_MIN_FRAME_SIZE, "motion": 16}
# Every task has this many classes; clip_label balances them in blocks of this size.
NUM_CLASSES = 5

# Bump when the rendering or the metadata change: it is part of the cache key, so stale
# cached datasets are never reused for a new definition.
GENERATOR_VERSION = 3
MARKER_NAME = "complete.json"

# x264 quality: crf 10 keeps the decoded frames within a few grey levels of the rendered
# ones (the remaining error is mostly yuv420p chroma subsampling) at ~10 KB per clip.
_CRF = 10


def _check_task(task: object) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, got {task!r}")


def class_names(task: str) -> tuple[str, ...]:
    """Class names of ``task`` in label order (index = label)."""
    _check_task(task)
    return _CLASS_NAMES[task]


@dataclass(frozen=True, kw_only=True)
class SyntheticParams:
    """Everything that determines the generated dataset (and so its cache key).

    Args:
        task: Which task renders the clips: ``"appear"`` (primary, the default), ``"cue"``
            (the conjunction task; the small X3D does not learn it within the CPU budget) or
            ``"motion"`` (the order-sensitive stress task).
        num_train: Clips in the train split.
        num_val: Clips in the val split.
        num_frames: Frames per clip, ``T`` (at least 2).
        frame_size: Height and width ``H = W`` of the square frames (even, for yuv420p; at
            least :data:`MIN_FRAME_SIZE` of the task: 16 for appear and motion, 24 for cue).
        fps: Frame rate written into the mp4 files (does not change the pixels).
        seed: Seed of the whole set; same seed, same frames, lists and metadata.
    """

    task: str = "appear"
    num_train: int = 1500
    num_val: int = 500
    num_frames: int = 16
    frame_size: int = 32
    fps: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        _check_task(self.task)
        for name, minimum in (("num_train", 1), ("num_val", 1), ("num_frames", 2), ("fps", 1), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if not isinstance(self.frame_size, int) or self.frame_size < 16 or self.frame_size % 2:
            raise ValueError(
                f"frame_size must be an even integer >= 16 (H.264 yuv420p needs even sizes), "
                f"got {self.frame_size!r}"
            )
        if self.frame_size < MIN_FRAME_SIZE[self.task]:
            smallest = ", ".join(f"{task} {size}" for task, size in MIN_FRAME_SIZE.items())
            raise ValueError(
                f"frame_size must be >= {MIN_FRAME_SIZE[self.task]} for task {self.task!r}, got {self.frame_size}: "
                f"use a larger frame_size or another task (smallest frame_size per task: {smallest})"
            )

    def cache_key(self) -> str:
        """Short stable hash of the parameters and the generator version."""
        payload = json.dumps({**dataclasses.asdict(self), "generator_version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _split_code(split: str) -> int:
    return zlib.crc32(split.encode("utf-8"))


def clip_label(*, seed: int, split: str, index: int) -> int:
    """Class of clip ``index``: every aligned block of 5 clips holds each class once.

    The order inside a block is a seeded permutation, so the classes are balanced, differ
    between seeds, and one clip's label does not depend on the split size. It does not
    depend on the task either: every task has :data:`NUM_CLASSES` classes.
    """
    block_rng = np.random.default_rng([seed, _split_code(split), index // NUM_CLASSES, 1])
    return int(block_rng.permutation(NUM_CLASSES)[index % NUM_CLASSES])


@dataclass(frozen=True)
class RenderedClip:
    """One rendered clip of any task.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames, exactly as they are encoded.
        label: Class index into :func:`class_names` of the task.
        metadata: The clip's side-car record without its path: ``label``, ``class_name`` and
            the task's fields (appear: ``onset``, ``event_frames``, ``num_distractors``,
            ``background_cut``, ``need``; cue: ``patterns``, ``cue_onset``, ``cue_frames``, ``need``,
            ``need_average``; motion: ``speed``, ``moving_fraction``, ``num_phases``,
            ``phase_labels``, ``last_phase_start``, ``need``).
    """

    frames: np.ndarray
    label: int
    metadata: dict[str, Any]


def render_clip(*, task: str, seed: int, split: str, index: int, num_frames: int, frame_size: int) -> RenderedClip:
    """Render clip ``index`` of ``split`` for ``task`` without writing anything.

    Deterministic: the label comes from :func:`clip_label` and the clip's generator is
    seeded from ``(seed, split, index)``, so the same arguments give byte-identical frames
    and metadata on the same platform.
    """
    _check_task(task)
    label = clip_label(seed=seed, split=split, index=index)
    rng = np.random.default_rng([seed, _split_code(split), index, 0])
    names = class_names(task)
    if task == "appear":
        appear = make_appear_clip(rng=rng, label=label, num_frames=num_frames, frame_size=frame_size)
        metadata = {
            "label": label,
            "class_name": names[label],
            "onset": appear.onset,
            "event_frames": appear.event_frames,
            "num_distractors": appear.num_distractors,
            "background_cut": appear.background_cut,
            "need": appear.need,
        }
        return RenderedClip(frames=appear.frames, label=label, metadata=metadata)
    if task == "cue":
        cue = make_cue_clip(rng=rng, label=label, num_frames=num_frames, frame_size=frame_size)
        metadata = {
            "label": label,
            "class_name": names[label],
            "patterns": [list(pattern) for pattern in cue.patterns],
            "cue_onset": cue.cue_onset,
            "cue_frames": cue.cue_frames,
            "need": cue.need,
            "need_average": cue.need_average,
        }
        return RenderedClip(frames=cue.frames, label=label, metadata=metadata)
    motion = make_motion_clip(rng=rng, label=label, num_frames=num_frames, frame_size=frame_size)
    metadata = {
        "label": label,
        "class_name": names[label],
        "speed": round(motion.speed, 6),
        "moving_fraction": round(motion.moving_fraction, 6),
        "num_phases": motion.num_phases,
        "phase_labels": list(motion.phase_labels),
        "last_phase_start": motion.last_phase_start,
        "need": motion.need,
    }
    return RenderedClip(frames=motion.frames, label=label, metadata=metadata)


def render_frames(
    *, seed: int, split: str, index: int, num_frames: int = 16, frame_size: int = 32, task: str = "appear"
) -> np.ndarray:
    """The ``(T, H, W, 3)`` uint8 frames of one clip, as :func:`render_clip` renders them."""
    return render_clip(
        task=task, seed=seed, split=split, index=index, num_frames=num_frames, frame_size=frame_size
    ).frames


def write_mp4(path: str | Path, frames: np.ndarray, *, fps: int) -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as H.264 (libx264, yuv420p) into ``path``."""
    _, height, width, _ = frames.shape
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # One thread: frames are tiny, threads only add start-up cost and run-to-run variation.
        stream.options = {"crf": str(_CRF), "preset": "fast", "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())


def _write_split(directory: Path, *, split: str, num_clips: int, params: SyntheticParams) -> None:
    video_dir = directory / "videos" / split
    video_dir.mkdir(parents=True)
    list_lines, meta_lines = [], []
    for index in range(num_clips):
        clip = render_clip(
            task=params.task,
            seed=params.seed,
            split=split,
            index=index,
            num_frames=params.num_frames,
            frame_size=params.frame_size,
        )
        relative = f"videos/{split}/{split}_{index:05d}.mp4"
        write_mp4(directory / relative, clip.frames, fps=params.fps)
        list_lines.append(f"{relative} {clip.label}\n")
        meta_lines.append(json.dumps({"path": relative, **clip.metadata}) + "\n")
    (directory / f"{split}.csv").write_text("".join(list_lines))
    (directory / f"{split}_meta.jsonl").write_text("".join(meta_lines))


def _marker_content(params: SyntheticParams) -> dict[str, object]:
    return {"params": dataclasses.asdict(params), "generator_version": GENERATOR_VERSION}


def _read_marker(root: Path) -> dict[str, object] | None:
    try:
        return json.loads((root / MARKER_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _generate_into(directory: Path, params: SyntheticParams) -> None:
    _write_split(directory, split="train", num_clips=params.num_train, params=params)
    _write_split(directory, split="val", num_clips=params.num_val, params=params)
    names = {name: i for i, name in enumerate(class_names(params.task))}
    (directory / "classnames.json").write_text(json.dumps(names, indent=2))
    # Written last: its presence is what marks the folder as complete.
    (directory / MARKER_NAME).write_text(json.dumps(_marker_content(params), indent=2, sort_keys=True))


def default_cache_root() -> Path:
    """``$ATFR_CACHE_DIR`` or ``~/.cache/atfr_lightning``: the base of the dataset cache."""
    return Path(os.environ.get("ATFR_CACHE_DIR", "~/.cache/atfr_lightning")).expanduser()


def synthetic_dataset_dir(*, root: str | Path | None = None, **params: int | str) -> Path:
    """Folder :func:`ensure_synthetic_dataset` uses: ``root`` or ``<cache>/synthetic/<hash>``."""
    config = SyntheticParams(**params)
    if root is not None:
        return Path(root).expanduser()
    return default_cache_root() / "synthetic" / config.cache_key()


def is_complete(root: str | Path, **params: int | str) -> bool:
    """Whether ``root`` holds a complete dataset generated with exactly these parameters."""
    return _read_marker(Path(root)) == _marker_content(SyntheticParams(**params))


def ensure_synthetic_dataset(*, root: str | Path | None = None, **params: int | str) -> Path:
    """Generate the synthetic dataset once and return its folder.

    Args:
        root: Dataset folder. ``None`` uses ``$ATFR_CACHE_DIR`` (default
            ``~/.cache/atfr_lightning``) ``/synthetic/<hash of params>``.
        **params: Fields of :class:`SyntheticParams` (task, num_train, num_val, num_frames,
            frame_size, fps, seed); missing ones take the defaults.

    A folder whose completion marker holds the same parameters is returned as is. Otherwise
    the set is written into a temporary sibling folder that is renamed into place only when
    complete, so an interrupted generation never looks like a finished one.

    Raises:
        FileExistsError: ``root`` exists, is not empty and holds no dataset with these
            parameters (it is never overwritten).
    """
    config = SyntheticParams(**params)
    target = synthetic_dataset_dir(root=root, **dataclasses.asdict(config))
    expected = _marker_content(config)
    if _read_marker(target) == expected:
        return target
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        found = _read_marker(target)
        what = f"a synthetic dataset made with {found}" if found else "other files"
        raise FileExistsError(
            f"{target} already holds {what}, not a dataset with {expected}: "
            "pass another root or delete that folder"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        _generate_into(partial, config)
        try:
            # rename() replaces an empty folder but fails on a non-empty one: that is the
            # case where another process finished the same dataset first.
            os.rename(partial, target)
        except OSError:
            if _read_marker(target) != expected:
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate the synthetic dataset into ``--root``."""
    defaults = SyntheticParams()
    parser = argparse.ArgumentParser(
        prog="python -m atfr_lightning.data.synthetic", description="Generate the synthetic action dataset."
    )
    parser.add_argument("--root", type=Path, required=True, help="dataset folder to create")
    parser.add_argument(
        "--task",
        choices=TASKS,
        default=defaults.task,
        help="appear (primary, the default), cue (conjunction task, not learned by the small X3D within the CPU "
        "budget) or motion (order-sensitive stress task)",
    )
    parser.add_argument("--num-train", type=int, default=defaults.num_train)
    parser.add_argument("--num-val", type=int, default=defaults.num_val)
    parser.add_argument("--num-frames", type=int, default=defaults.num_frames)
    parser.add_argument("--frame-size", type=int, default=defaults.frame_size)
    parser.add_argument("--fps", type=int, default=defaults.fps)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        root = ensure_synthetic_dataset(
            root=args.root,
            task=args.task,
            num_train=args.num_train,
            num_val=args.num_val,
            num_frames=args.num_frames,
            frame_size=args.frame_size,
            fps=args.fps,
            seed=args.seed,
        )
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    print(f"synthetic dataset ({args.task} task) ready in {root} ({time.perf_counter() - start:.1f} s)")
    return 0

