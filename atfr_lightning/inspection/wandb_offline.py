"""Read an offline W&B run (``wandb/offline-run-*/run-*.wandb``) back without a W&B server.

wandb >= 0.18 writes the run with its Go core and ships no Python reader for it. The file is
a LevelDB-style log: a 7-byte file header (``:W&B``, magic 0xBEE1, version 0), then 32 KiB
blocks of chunks, each with a 7-byte header (CRC-32C, length, type FULL/FIRST/MIDDLE/LAST),
whose payloads join into serialized ``wandb_internal_pb2.Record`` protobufs. Chunks never
straddle a block: fewer than 7 bytes left in a block are padding.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

_BLOCK = 32 * 1024
_HEADER = struct.Struct("<IHB")  # crc32c, length, chunk type
_FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def iter_records(path: str | Path) -> Iterator:
    """Yield every ``wandb_internal_pb2.Record`` stored in one ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError(f"{path} is not a W&B transaction log (header {ident!r}, {magic:#x}, {version})")
    offset, pending = _FILE_HEADER.size, b""
    while offset + _HEADER.size <= len(data):
        left_in_block = _BLOCK - offset % _BLOCK
        if left_in_block < _HEADER.size:
            offset += left_in_block  # block padding
            continue
        _, length, kind = _HEADER.unpack_from(data, offset)
        if length == 0 and kind == 0:  # zero padding written at the end of a block or file
            offset += left_in_block
            continue
        if offset + _HEADER.size + length > len(data):
            break  # a run still writing: its last chunk is not complete yet
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        offset += _HEADER.size + length
        if kind in (_FULL, _FIRST):
            pending = payload
        else:
            pending += payload
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


def read_history(path: str | Path) -> list[dict]:
    """Every ``run.log`` call of an offline run as a dict (values JSON-decoded; media as dicts).

    Args:
        path: the ``.wandb`` file, or the ``offline-run-*`` folder holding it.
    """
    path = Path(path)
    if path.is_dir():
        (path,) = path.glob("*.wandb")
    rows = []
    for record in iter_records(path):
        if record.WhichOneof("record_type") != "history":
            continue
        row: dict = {}
        for item in record.history.item:
            # Media and histograms arrive flattened as nested keys ("val/clips", "path"):
            # rebuild them as {"val/clips": {"path": ...}}.
            keys = [item.key] if item.key else list(item.nested_key)
            target = row
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = json.loads(item.value_json)
        rows.append(row)
    return rows


def read_summary(path: str | Path) -> dict:
    """The run's summary as W&B shows it: every ``summary`` update folded in order (last value wins).

    Args:
        path: the ``.wandb`` file, or the run folder holding it.
    """
    path = Path(path)
    if path.is_dir():
        (path,) = path.glob("*.wandb")
    summary: dict = {}
    for record in iter_records(path):
        if record.WhichOneof("record_type") != "summary":
            continue
        for item in record.summary.update:
            summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        for item in record.summary.remove:
            summary.pop(item.key or "/".join(item.nested_key), None)
    return summary


def find_run_by_id(roots: list[str | Path], run_id: str, *, max_depth: int = 4) -> Path | None:
    """The newest ``[offline-]run-*-<run_id>`` folder under any of ``roots`` (a bounded search).

    Online runs keep the same transaction log locally (``wandb/run-*``), so this finds both.
    """
    found: list[Path] = []
    for root in map(Path, roots):
        for depth in range(max_depth + 1):
            pattern = "/".join(["*"] * depth + ["wandb", f"*run-*-{run_id}"])
            found += [p for p in root.glob(pattern) if p.is_dir()]
    return max(found, key=lambda p: p.name.split("run-", 1)[1]) if found else None


def find_offline_run(folder: str | Path) -> Path:
    """The newest ``offline-run-*`` folder under ``folder`` (searched recursively)."""
    runs = sorted(Path(folder).rglob("offline-run-*"), key=lambda p: p.name)
    runs = [run for run in runs if run.is_dir()]
    if not runs:
        raise FileNotFoundError(f"no wandb/offline-run-* folder under {folder}")
    return runs[-1]
