"""Something-Something V2 annotations, read from the official JSON files.

* ``something-something-v2-labels.json``: ``{"<template without brackets>": "<class id>", ...}``.
* ``something-something-v2-{train,validation}.json``: lists of ``{"id", "label", "template",
  "placeholders"}``; the class is the template with its brackets removed
  (``"Putting [something] on a surface"`` -> ``"Putting something on a surface"``).
* ``something-something-v2-test.json``: ``[{"id": ...}]`` without labels (unusable for accuracy).

Videos are ``<root>/<id>.webm`` (VP9, 12 fps) or frame folders ``<root>/<id>/`` (often
converted at 30 fps); a folder wins when both exist.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord, json_line_of, load_json, require_file


def normalize_template(template: str) -> str:
    """The labels-file key of a template: brackets removed, surrounding spaces stripped."""
    return template.replace("[", "").replace("]", "").strip()


def read_ssv2_labels(path: str | Path) -> dict[str, int]:
    """``something-something-v2-labels.json`` -> {template without brackets: class id}.

    Raises:
        AnnotationError: not a JSON object of template -> integer id, or ids that are not
            exactly 0..N-1.
    """
    path = require_file(path, "Something-Something V2 labels file")
    expected = 'a JSON object {"<template>": "<class id>", ...}'
    raw = load_json(path, expected)
    if not isinstance(raw, dict) or not raw:
        raise AnnotationError(f"{path}:1: expected {expected}, got {type(raw).__name__}")
    labels = {}
    text = path.read_text(encoding="utf-8-sig")
    for template, value in raw.items():
        if not (isinstance(value, (str, int)) and str(value).strip().isdigit()):
            line = json_line_of(text, f'"{template}"') or 1
            raise AnnotationError(
                f"{path}:{line}: expected a non-negative integer class id for {template!r}, got {value!r}"
            )
        labels[normalize_template(template)] = int(value)
    if sorted(labels.values()) != list(range(len(labels))):
        raise AnnotationError(f"{path}: expected class ids 0..{len(labels) - 1}, each once")
    return labels


def _entry_line(text: str, video_id: object, index: int) -> int:
    match = re.search(r'"id"\s*:\s*"?' + re.escape(str(video_id)) + r'"?\s*[,}]', text)
    return text.count("\n", 0, match.start()) + 1 if match else index + 1


def read_ssv2_split(path: str | Path, *, labels: dict[str, int]) -> list[tuple[str, int]]:
    """``(video id, class)`` of every entry of a train or validation JSON file.

    Raises:
        AnnotationError: naming the file and line, for an entry without ``id`` or
            ``template``, or a template that is not in ``labels`` (closest ones suggested).
    """
    path = require_file(path, "Something-Something V2 split file")
    expected = 'a JSON list of {"id", "label", "template", "placeholders"} objects'
    entries = load_json(path, expected)
    if not isinstance(entries, list):
        raise AnnotationError(f"{path}:1: expected {expected}, got a JSON {type(entries).__name__}")
    text = path.read_text(encoding="utf-8-sig")
    items = []
    for index, entry in enumerate(entries):
        video_id = entry.get("id") if isinstance(entry, dict) else None
        if video_id is None or "template" not in entry:
            line = _entry_line(text, video_id, index) if video_id is not None else "?"
            raise AnnotationError(
                f"{path}:{line}: entry {index} expected an object with 'id' and 'template' "
                f"(test files have no labels), got {entry!r}"
            )
        template = normalize_template(str(entry["template"]))
        label = labels.get(template)
        if label is None:
            close = difflib.get_close_matches(template, list(labels), n=2)
            raise AnnotationError(
                f"{path}:{_entry_line(text, video_id, index)}: expected a template of the labels file for video "
                f"{video_id}, got {entry['template']!r}" + (f"; closest: {close}" if close else "")
            )
        items.append((str(video_id), label))
    return items


def ssv2_records(items: list[tuple[str, int]], *, video_root: Path) -> list[VideoRecord]:
    """Records for ``(id, class)`` pairs: ``<root>/<id>/`` frame folder, else ``<root>/<id>.webm``."""
    records = []
    for video_id, label in items:
        folder = video_root / video_id
        path = folder if folder.is_dir() else video_root / f"{video_id}.webm"
        records.append(VideoRecord(path=path, label=label, name=video_id))
    return records
