"""Shared pieces of the annotation readers: records, clear errors, tolerant line reading.

Official annotation files carry small quirks (CRLF line ends, trailing spaces, a UTF-8 byte
order mark, blank lines); the readers accept all of them and reject anything else with an
:class:`AnnotationError` that names the file, the line and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class AnnotationError(ValueError):
    """An annotation file (or the folder it points to) does not have the expected shape."""


@dataclass(frozen=True, kw_only=True)
class VideoRecord:
    """One annotated video: where it is, its 0-based class, and the name reports use.

    Args:
        path: The video file, or a folder of frame images.
        label: 0-based class index; ``-1`` for unlabelled videos.
        name: Short identifier for reports (YouTube id, SSv2 id, file name).
    """

    path: Path
    label: int
    name: str


def resolve(base: Path, path: str | Path) -> Path:
    """``path`` as is when absolute, else ``base / path`` (relative annotation paths)."""
    path = Path(path)
    return path if path.is_absolute() else base / path


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path; an AnnotationError saying what the file is when it does not exist."""
    return _require(Path(path), what, folder=False)


def require_dir(path: str | Path, what: str) -> Path:
    """``path`` as a Path; an AnnotationError saying what the folder is when it does not exist."""
    return _require(Path(path), what, folder=True)


def _require(path: Path, what: str, *, folder: bool) -> Path:
    if (path.is_dir() if folder else path.is_file()):
        return path
    if folder:
        raise AnnotationError(f"{what} not found: {path} is not a folder" + (" (it is a file)" if path.is_file() else ""))
    raise AnnotationError(f"{what} not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))


def read_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """``(line_number, stripped_line, raw_line)`` for every non-blank line of a text file.

    Line numbers are 1-based and count blank lines; CRLF and trailing spaces are stripped;
    a UTF-8 byte order mark is dropped.
    """
    # newline="" keeps "\r" so that strip() removes it like any trailing whitespace.
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for line_number, raw_line in enumerate(handle, start=1):
            line = raw_line.strip()
            if line:
                yield line_number, line, raw_line.rstrip("\r\n")


def line_error(path: Path, line_number: int, expected: str, raw_line: str) -> AnnotationError:
    """``<file>:<line>: expected ..., got '<line>'``."""
    return AnnotationError(f"{path}:{line_number}: expected {expected}, got {raw_line!r}")


def load_json(path: Path, expected: str) -> Any:
    """Parse a JSON file; a malformed one raises an AnnotationError with its line and column."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(
            f"{path}:{error.lineno}: malformed JSON at column {error.colno} ({error.msg}): expected {expected}"
        ) from error


def json_line_of(text: str, needle: str) -> int | None:
    """1-based line of the first occurrence of ``needle`` in ``text`` (JSON has no per-entry lines)."""
    position = text.find(needle)
    return None if position < 0 else text.count("\n", 0, position) + 1
