"""PySlowFast-style video lists: ``<path> <label>`` a line, 0-based integer labels.

The format of Kinetics' ``path_label`` annotations and of the synthetic set's ``train.csv`` /
``val.csv``. The label is the last whitespace-separated token, so paths may hold spaces
(Kinetics class folders do). CRLF line ends, trailing spaces, a UTF-8 byte order mark and
blank lines are accepted (see :func:`atfr_lightning.data.readers.annotations.read_lines`).
"""

from __future__ import annotations

from pathlib import Path

from atfr_lightning.data.readers.annotations import VideoRecord, line_error, read_lines, require_file


def parse_video_list(list_path: str | Path, *, video_root: str | Path | None = None) -> list[VideoRecord]:
    """Read a ``<path> <label>`` list, one video a line.

    Relative paths are resolved against ``video_root`` (default: the list's folder). Each
    record's ``name`` is its path as written in the list.

    Raises:
        AnnotationError: the list does not exist, or a line has no path or its last token
            is not a non-negative integer (naming the file, the line number and the line).
    """
    list_path = require_file(list_path, "video list")
    base = Path(video_root) if video_root is not None else list_path.parent
    records = []
    for line_number, line, raw in read_lines(list_path):
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit()):
            raise line_error(
                list_path, line_number, "'<path> <label>' with a non-negative integer label as the last token", raw
            )
        path = Path(parts[0].strip())
        records.append(
            VideoRecord(path=path if path.is_absolute() else base / path, label=int(parts[1]), name=str(path))
        )
    return records
