"""Kinetics-400/600/700 and mini-Kinetics-200 annotations, read in their official formats.

* Official CSVs: header ``label,youtube_id,time_start,time_end,split`` (K400 adds ``is_cc``);
  a clip's file is ``<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``, found anywhere
  under the video root (the usual ``<split>/<label>/<file>`` layout, class folders with
  underscores, or flat split folders all work). Classes are the sorted label names of the
  train CSV, re-indexed from 0.
* PySlowFast-style lists ``<path> <label>`` (0-based labels, the label is the last token so
  paths may hold spaces): :func:`atfr_lightning.data.readers.path_label.parse_video_list`.
* Folder per class: ``<split folder>/<class name>/<video>``, classes sorted by name.
* mini-Kinetics-200 (Xie et al., 2018): two lists of YouTube ids, one a line, joined with the
  K400 annotation CSVs for their labels; its 200 classes are re-indexed 0..199.

Every real copy misses some videos: the readers return what they could not find instead of
raising, and the datamodules report it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from atfr_lightning.data.readers.annotations import (
    AnnotationError,
    VideoRecord,
    line_error,
    read_lines,
    require_dir,
    require_file,
)

KINETICS_COLUMNS: tuple[str, ...] = ("label", "youtube_id", "time_start", "time_end")
VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v"})
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


@dataclass(frozen=True, kw_only=True)
class KineticsAnnotation:
    """One row of an official Kinetics CSV.

    Args:
        label: Class name as written in the CSV (may contain spaces and brackets).
        youtube_id: The 11-character YouTube id.
        time_start: Clip start in seconds.
        time_end: Clip end in seconds.
        line: 1-based line of the row in ``source`` (for error messages).
        source: The CSV file.
    """

    label: str
    youtube_id: str
    time_start: int
    time_end: int
    line: int
    source: Path

    @property
    def clip_name(self) -> str:
        """File name stem of the downloaded clip: ``<youtube_id>_<start:06d>_<end:06d>``."""
        return kinetics_clip_name(self.youtube_id, self.time_start, self.time_end)


def kinetics_clip_name(youtube_id: str, time_start: int, time_end: int) -> str:
    """``<youtube_id>_<time_start:06d>_<time_end:06d>``, the usual downloaded file stem."""
    return f"{youtube_id}_{time_start:06d}_{time_end:06d}"


def _seconds(value: str, path: Path, line: int, column: str, raw: str) -> int:
    # The CSVs write whole seconds ("10"); some re-exports write "10.0".
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 0:
        raise line_error(path, line, f"a whole number of seconds >= 0 in column {column!r}", raw)
    return int(number)


def read_kinetics_csv(path: str | Path) -> list[KineticsAnnotation]:
    """Read an official Kinetics annotation CSV (any of K400 / K600 / K700).

    Raises:
        AnnotationError: naming the file and line, for a header without the columns
            ``label, youtube_id, time_start, time_end``, or a row with a wrong field.
    """
    path = require_file(path, "Kinetics annotation CSV")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = handle.read().splitlines()
    rows = csv.reader(lines)
    header = next(rows, None)
    if header is None:
        raise AnnotationError(f"{path}:1: expected the header {','.join(KINETICS_COLUMNS)},split, got an empty file")
    columns = [name.strip() for name in header]
    missing = [name for name in KINETICS_COLUMNS if name not in columns]
    if missing:
        hint = (
            " (a Kinetics test CSV without labels cannot be used for training or evaluation)"
            if (missing == ["label"])
            else ""
        )
        raise AnnotationError(
            f"{path}:1: expected a header with the columns {', '.join(KINETICS_COLUMNS)} "
            f"(and split), got {lines[0]!r}; missing {missing}{hint}"
        )
    where = {name: columns.index(name) for name in KINETICS_COLUMNS}
    annotations = []
    for line_number, row in enumerate(rows, start=2):
        raw = lines[line_number - 1]
        if not raw.strip():
            continue
        if len(row) != len(columns):
            raise line_error(path, line_number, f"{len(columns)} comma-separated fields like the header", raw)
        label = row[where["label"]].strip()
        youtube_id = row[where["youtube_id"]].strip()
        if not label:
            raise line_error(path, line_number, "a class name in column 'label'", raw)
        if not _YOUTUBE_ID.match(youtube_id):
            raise line_error(path, line_number, "an 11-character YouTube id in column 'youtube_id'", raw)
        annotations.append(
            KineticsAnnotation(
                label=label,
                youtube_id=youtube_id,
                time_start=_seconds(row[where["time_start"]], path, line_number, "time_start", raw),
                time_end=_seconds(row[where["time_end"]], path, line_number, "time_end", raw),
                line=line_number,
                source=path,
            )
        )
    return annotations


def index_video_files(root: str | Path) -> dict[str, Path]:
    """Map file stem -> path for every video file under ``root`` (any depth).

    One walk of the tree instead of a ``stat`` per annotation and per possible layout.
    """
    root = require_dir(root, "Kinetics video root")
    index: dict[str, Path] = {}
    for folder, _, files in os.walk(root):
        for name in files:
            stem, extension = os.path.splitext(name)
            if extension.lower() in VIDEO_EXTENSIONS:
                index.setdefault(stem, Path(folder) / name)
    return index


def class_index(names: Iterable[str]) -> dict[str, int]:
    """Sorted unique class names -> 0-based index."""
    return {name: index for index, name in enumerate(sorted(set(names)))}


def kinetics_records(
    annotations: Sequence[KineticsAnnotation], *, classes: dict[str, int], videos: dict[str, Path]
) -> tuple[list[VideoRecord], list[str]]:
    """Join annotations with the files found on disk.

    Returns:
        The records of the clips found, and the clip names (``<id>_<start>_<end>``) not found.

    Raises:
        AnnotationError: a label that is not one of ``classes`` (naming file and line).
    """
    records, missing = [], []
    for annotation in annotations:
        label = classes.get(annotation.label)
        if label is None:
            raise AnnotationError(
                f"{annotation.source}:{annotation.line}: expected one of the {len(classes)} class names of the "
                f"train annotations, got label {annotation.label!r}"
            )
        path = videos.get(annotation.clip_name)
        if path is None:
            missing.append(annotation.clip_name)
        else:
            records.append(VideoRecord(path=path, label=label, name=annotation.clip_name))
    return records, missing


def folder_per_class_records(split_root: str | Path, *, classes: dict[str, int] | None = None) -> list[VideoRecord]:
    """Records of ``<split_root>/<class name>/<video>``; classes sorted by folder name.

    Args:
        split_root: Folder holding one folder per class.
        classes: Class -> index to use (the train split's, for val / test); ``None`` takes
            this split's own sorted folder names.

    Raises:
        AnnotationError: no class folders, or a class folder that ``classes`` does not know.
    """
    split_root = require_dir(split_root, "folder of class folders")
    folders = sorted(p for p in split_root.iterdir() if p.is_dir())
    if not folders:
        raise AnnotationError(f"{split_root}: expected one folder per class holding videos, found no folder")
    classes = class_index(p.name for p in folders) if classes is None else classes
    records = []
    for folder in folders:
        if folder.name not in classes:
            raise AnnotationError(
                f"{folder}: expected one of the {len(classes)} class folders of the train split, got {folder.name!r}"
            )
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in VIDEO_EXTENSIONS or path.is_dir():
                records.append(VideoRecord(path=path, label=classes[folder.name], name=f"{folder.name}/{path.name}"))
    return records


def read_youtube_id_list(path: str | Path) -> list[tuple[int, str]]:
    """``(line, youtube_id)`` of a mini-Kinetics id list (one 11-character id a line).

    Raises:
        AnnotationError: a line that is not a single YouTube id (naming file and line).
    """
    path = require_file(path, "mini-Kinetics YouTube id list")
    ids = []
    for line_number, line, raw in read_lines(path):
        if not _YOUTUBE_ID.match(line):
            raise line_error(path, line_number, "one 11-character YouTube id per line", raw)
        ids.append((line_number, line))
    return ids


def mini_kinetics_annotations(
    id_list: str | Path, kinetics_annotations: Sequence[KineticsAnnotation]
) -> tuple[list[KineticsAnnotation], list[str]]:
    """Join a mini-Kinetics id list with the K400 annotations.

    Returns:
        The K400 annotations of the listed ids (in list order), and the ids absent from them.
    """
    by_id = {annotation.youtube_id: annotation for annotation in kinetics_annotations}
    found, absent = [], []
    for _, youtube_id in read_youtube_id_list(id_list):
        annotation = by_id.get(youtube_id)
        if annotation is None:
            absent.append(youtube_id)
        else:
            found.append(annotation)
    return found, absent
