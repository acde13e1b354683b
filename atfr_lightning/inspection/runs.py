"""Load the adaptive-resolution records of one run for inspection (the notebook uses this).

Three sources give the same :class:`RunRecords`:

* a local folder holding an offline (or synced) W&B run, ``wandb/offline-run-*``;
* a W&B run path ``entity/project/run_id`` read through the W&B API (needs a login);
* a run folder written with W&B off: ``adaptive_resolution/*.csv`` and ``*.png``.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atfr_lightning.inspection.wandb_offline import find_offline_run, read_history
from atfr_lightning.records import read_csv


@dataclass
class RunRecords:
    """Per-clip records of the last evaluation of one split.

    Attributes:
        clips: column -> (N,) array: video_index, label, prediction, correct, bins/<layer>,
            and when logged gflops (fvcore, multiply-adds) and need (synthetic set).
        layers: SGS layer names (one per SlowFast pathway).
        class_names: class index -> name (ids as strings when unknown).
        images: (PNG path, caption) of the frame strips coloured by bin.
        backbone_gflops: the backbone without SGS, GFLOPs (fvcore, multiply-adds); None if absent.
        source: where the records came from.
    """

    clips: dict[str, np.ndarray]
    layers: list[str]
    class_names: list[str] = field(default_factory=list)
    images: list[tuple[Path, str]] = field(default_factory=list)
    backbone_gflops: float | None = None
    source: str = ""


def load_run(source: str | Path, *, split: str = "val") -> RunRecords:
    """Records of ``split`` from a run folder, an offline W&B folder, or ``entity/project/run_id``."""
    path = Path(source)
    if path.exists():
        if (path / "adaptive_resolution").is_dir() or path.name == "adaptive_resolution":
            return _from_files(path if path.name != "adaptive_resolution" else path.parent, split)
        offline = path if path.name.startswith(("offline-run-", "run-")) else find_offline_run(path)
        return _from_wandb_history(read_history(offline), offline / "files", split, source=str(offline))
    if re.fullmatch(r"[^/\s]+/[^/\s]+/[^/\s]+", str(source)):
        return _from_wandb_api(str(source), split)
    raise FileNotFoundError(f"{source} is neither a run folder nor a W&B run path entity/project/run_id")


def _columns(columns: list[str], data: list[list]) -> dict[str, np.ndarray]:
    return {name: np.array([row[i] for row in data]) for i, name in enumerate(columns)}


def _from_wandb_history(history: list[dict], files: Path, split: str, *, source: str) -> RunRecords:
    def last(key):
        rows = [row[key] for row in history if key in row]
        return rows[-1] if rows else None

    table = last(f"{split}/clips")
    if table is None:
        raise KeyError(f"{source} holds no {split}/clips table: was AdaptiveResolutionLogger in the callbacks?")
    content = json.loads((files / table["path"]).read_text())
    clips = _columns(content["columns"], content["data"])
    per_class = last(f"{split}/mean_bins_per_class")
    class_names = []
    if per_class is not None:
        class_names = [row[1] for row in json.loads((files / per_class["path"]).read_text())["data"]]
    strips = last(f"{split}/frame_bins") or {}
    images = [(files / name, caption) for name, caption in zip(strips.get("filenames", []), strips.get("captions", []))]
    return RunRecords(
        clips=clips,
        layers=[c.split("/", 1)[1] for c in clips if c.startswith("bins/")],
        class_names=class_names,
        images=images,
        backbone_gflops=last("flops/backbone_gflops"),
        source=source,
    )


def _from_wandb_api(run_path: str, split: str) -> RunRecords:
    import wandb

    run = wandb.Api().run(run_path)
    history = list(run.scan_history())
    folder = Path(tempfile.mkdtemp(prefix="atfr_run_"))
    for row in history:
        for key, value in row.items():
            if isinstance(value, dict) and key.startswith((f"{split}/clips", f"{split}/mean_bins_per_class")):
                run.file(value["path"]).download(root=folder, replace=True)
            if isinstance(value, dict) and key == f"{split}/frame_bins":
                for name in value.get("filenames", []):
                    run.file(name).download(root=folder, replace=True)
    return _from_wandb_history(history, folder, split, source=run_path)


def _from_files(run_dir: Path, split: str) -> RunRecords:
    folder = run_dir / "adaptive_resolution"
    tables = sorted(folder.glob(f"{split}_epoch*_clips.csv"))
    if not tables:
        raise FileNotFoundError(f"no {split}_epoch*_clips.csv in {folder}")
    stem = tables[-1].name[: -len("_clips.csv")]
    raw = read_csv(tables[-1])
    clips = {name: np.array([float(v) for v in values]) for name, values in raw.items()}
    for name in ("video_index", "label", "prediction", "correct", "need"):
        if name in clips:
            clips[name] = clips[name].astype(np.int64)
    per_class = folder / f"{stem}_mean_bins_per_class.csv"
    class_names = read_csv(per_class)["class_name"] if per_class.exists() else []
    images = []
    for png in sorted(folder.glob(f"{stem}_frame_bins_*.png")):
        caption = png.with_suffix(".txt")
        images.append((png, caption.read_text().strip() if caption.exists() else ""))
    backbone = run_dir / "flops" / "backbone_gflops.txt"
    return RunRecords(
        clips=clips,
        layers=[c.split("/", 1)[1] for c in clips if c.startswith("bins/")],
        class_names=class_names,
        images=images,
        backbone_gflops=float(backbone.read_text().split()[0]) if backbone.exists() else None,
        source=str(run_dir),
    )
