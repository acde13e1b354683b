"""UCF101 annotations, read from the official ``ucfTrainTestlist`` files.

* ``classInd.txt``: ``<1-based index> <ClassName>`` per line (CRLF in the official copy).
* ``trainlist0{1,2,3}.txt``: ``<Class>/<file>.avi <1-based index>``.
* ``testlist0{1,2,3}.txt``: ``<Class>/<file>.avi`` (no label).

The class always comes from the folder part of the path, looked up in ``classInd.txt`` and
made 0-based: file names cannot be trusted (the folder ``HandstandPushups`` holds
``v_HandStandPushups_*.avi``), and PyTorchVideo's own loader leaves train labels 1-based
and gives test clips the label -1.
"""

from __future__ import annotations

from pathlib import Path

from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord, line_error, read_lines, require_file

SPLITS: tuple[int, ...] = (1, 2, 3)


def check_split(split: int, dataset: str) -> None:
    """ValueError naming ``split`` unless it is 1, 2 or 3."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is invalid: {dataset} has the official splits 1, 2 and 3")


def read_class_index(path: str | Path) -> dict[str, int]:
    """``classInd.txt`` -> {class name: 0-based index}.

    Raises:
        AnnotationError: a line that is not ``<index> <name>``, or indices that are not 1..N.
    """
    path = require_file(path, "UCF101 classInd.txt")
    classes: dict[str, int] = {}
    for line_number, line, raw in read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise line_error(path, line_number, "'<1-based class index> <ClassName>'", raw)
        classes[parts[1]] = int(parts[0]) - 1
    if sorted(classes.values()) != list(range(len(classes))):
        raise AnnotationError(f"{path}: expected class indices 1..{len(classes)}, each once")
    return classes


def read_ucf101_split(list_path: str | Path, *, classes: dict[str, int], video_root: Path) -> list[VideoRecord]:
    """Records of a ``trainlist0N.txt`` or ``testlist0N.txt`` file, labels 0-based.

    Raises:
        AnnotationError: naming the file and line, for a line that is not
            ``<Class>/<file> [<index>]``, an unknown class folder, or a train label that
            disagrees with the folder's class.
    """
    list_path = require_file(list_path, "UCF101 split list")
    records = []
    for line_number, line, raw in read_lines(list_path):
        parts = line.split()
        relative = parts[0] if parts else ""
        folder = relative.split("/")[0] if "/" in relative else None
        if len(parts) > 2 or folder is None or (len(parts) == 2 and not parts[1].isdigit()):
            raise line_error(list_path, line_number, "'<Class>/<file>.avi' optionally followed by a class index", raw)
        label = classes.get(folder)
        if label is None:
            raise line_error(list_path, line_number, f"a class folder listed in classInd.txt, not {folder!r}", raw)
        if len(parts) == 2 and int(parts[1]) - 1 != label:
            raise line_error(
                list_path, line_number, f"class index {label + 1} of folder {folder!r} (classInd.txt)", raw
            )
        records.append(VideoRecord(path=video_root / relative, label=label, name=relative))
    return records
