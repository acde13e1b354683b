"""HMDB51 annotations, read from the official ``testTrainMulti_7030_splits`` files.

153 files ``<class>_test_split{1,2,3}.txt``, one per class and split, with lines
``<video>.avi <tag>`` (often with a trailing space): tag 1 = train, 2 = test, 0 = unused.
The class is the file name's prefix (``brush_hair_test_split1.txt`` -> ``brush_hair``);
classes are sorted by name and indexed from 0. Videos are ``<root>/<class>/<video>.avi``.
"""

from __future__ import annotations

import re
from pathlib import Path

from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord, line_error, read_lines, require_dir
from atfr_lightning.data.readers.ucf101 import check_split

_SPLIT_FILE = re.compile(r"^(?P<name>.+)_test_split(?P<split>[123])\.txt$")
TRAIN_TAG, TEST_TAG = 1, 2


def read_hmdb51_split(split_dir: str | Path, *, split: int, video_root: Path) -> dict[str, list[VideoRecord]]:
    """``{"train": records, "test": records}`` of one official split, labels 0-based.

    Raises:
        AnnotationError: no split files for ``split`` in ``split_dir``, or a line that is not
            ``<video> <0|1|2>`` (naming the file and line).
    """
    check_split(split, "HMDB51")
    split_dir = require_dir(split_dir, "HMDB51 split folder")
    files = {}
    for path in split_dir.iterdir():
        match = _SPLIT_FILE.match(path.name)
        if match and int(match["split"]) == split:
            files[match["name"]] = path
    if not files:
        raise AnnotationError(
            f"{split_dir}: expected files named <class>_test_split{split}.txt (the official split files), found none"
        )
    splits: dict[str, list[VideoRecord]] = {"train": [], "test": []}
    for label, name in enumerate(sorted(files)):
        path = files[name]
        for line_number, line, raw in read_lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise line_error(path, line_number, "'<video>.avi <0|1|2>' (1 train, 2 test, 0 unused)", raw)
            tag = int(parts[1])
            if tag in (TRAIN_TAG, TEST_TAG):
                record = VideoRecord(path=video_root / name / parts[0], label=label, name=f"{name}/{parts[0]}")
                splits["train" if tag == TRAIN_TAG else "test"].append(record)
    return splits


def hmdb51_class_names(split_dir: str | Path, *, split: int) -> list[str]:
    """Class names in label order (sorted), from the split files' names."""
    split_dir = require_dir(split_dir, "HMDB51 split folder")
    names = {m["name"] for p in split_dir.iterdir() if (m := _SPLIT_FILE.match(p.name)) and int(m["split"]) == split}
    return sorted(names)
