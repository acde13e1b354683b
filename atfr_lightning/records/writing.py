"""The records as W&B media and as CSV/PNG files: one function per record, the same numbers in both.

``wandb`` is imported only inside the functions that build W&B objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from atfr_lightning.records.clips import ClipRecords
from atfr_lightning.records.files import plot_bins_histograms, plot_gflops_histogram, save_png, write_csv
from atfr_lightning.records.stats import GFLOPS_UNITS, integer_histogram

# A frame strip: a uint8 (H, W, 3) image and its caption.
Strip = tuple[np.ndarray, str]


def integer_wandb_histogram(values: np.ndarray, *, max_value: int):
    """W&B histogram with one bar per integer 1..max_value."""
    import wandb

    counts, edges = integer_histogram(values, max_value=max_value)
    return wandb.Histogram(np_histogram=(counts.tolist(), edges.tolist()))


# ---- bins per clip (AdaptiveResolutionLogger) ------------------------------------------------------------
def bins_wandb_record(
    split: str, clips: ClipRecords, *, per_class: Mapping[str, np.ndarray], class_names: Sequence[str], max_bins: int
) -> dict:
    """``<split>/clips`` and ``<split>/mean_bins_per_class`` tables, ``<split>/bins_hist/<layer>`` histograms."""
    import wandb

    table = clips.table()
    layers = clips.layers
    record = {
        f"{split}/clips": wandb.Table(
            columns=list(table), data=[list(r) for r in zip(*(column.tolist() for column in table.values()))]
        ),
        f"{split}/mean_bins_per_class": wandb.Table(
            columns=["class", "class_name", *layers],
            data=[
                [c, class_names[c], *[_nan_to_none(per_class[layer][c]) for layer in layers]]
                for c in range(len(class_names))
            ],
        ),
    }
    for layer in layers:
        record[f"{split}/bins_hist/{layer}"] = integer_wandb_histogram(clips.bins(layer), max_value=max_bins)
    return record


def write_bins_files(
    folder: Path,
    stem: str,
    clips: ClipRecords,
    *,
    per_class: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    max_bins: int,
    title: str,
) -> None:
    """``<stem>_clips.csv``, ``<stem>_mean_bins_per_class.csv`` and ``<stem>_bins_hist.png`` in ``folder``."""
    write_csv(folder / f"{stem}_clips.csv", {name: column.tolist() for name, column in clips.table().items()})
    write_csv(
        folder / f"{stem}_mean_bins_per_class.csv",
        {
            "class": list(range(len(class_names))),
            "class_name": list(class_names),
            **{layer: per_class[layer].tolist() for layer in clips.layers},
        },
    )
    plot_bins_histograms(
        folder / f"{stem}_bins_hist.png",
        {layer: clips.bins(layer) for layer in clips.layers},
        max_bins=max_bins,
        title=title,
    )


# ---- GFLOPs (FlopsLogger) ---------------------------------------------------------------------------------
def cost_table_wandb_record(per_bins: Mapping[int, float], *, backbone_gflops: float) -> dict:
    """``flops/backbone_gflops`` and the ``flops/gflops_per_bins`` table (one row per B')."""
    import wandb

    rows = [[str(bins), float(gflops)] for bins, gflops in per_bins.items()]
    return {
        "flops/backbone_gflops": backbone_gflops,
        "flops/gflops_per_bins": wandb.Table(columns=["active_bins", "gflops"], data=rows),
    }


def write_cost_table_files(folder: Path, per_bins: Mapping[int, float], *, backbone_gflops: float) -> None:
    """``cost_table.csv`` (active_bins, gflops) and ``backbone_gflops.txt`` in ``folder``."""
    write_csv(
        folder / "cost_table.csv",
        {"active_bins": [str(bins) for bins in per_bins], "gflops": [float(g) for g in per_bins.values()]},
    )
    (folder / "backbone_gflops.txt").write_text(f"{backbone_gflops:.6f} {GFLOPS_UNITS}\n")


def gflops_wandb_record(split: str, clips: ClipRecords) -> dict:
    """``<split>/gflops/per_clip``: W&B histogram of the clips' GFLOPs."""
    import wandb

    return {f"{split}/gflops/per_clip": wandb.Histogram(clips.gflops, num_bins=32)}


def write_gflops_files(folder: Path, stem: str, clips: ClipRecords, *, backbone_gflops: float, title: str) -> None:
    """``<stem>_gflops.csv`` (video_index, view_index, gflops) and ``<stem>_gflops.png`` in ``folder``."""
    write_csv(
        folder / f"{stem}_gflops.csv",
        {name: clips[name].tolist() for name in ("video_index", "view_index", "gflops")},
    )
    plot_gflops_histogram(
        folder / f"{stem}_gflops.png", np.asarray(clips.gflops), backbone_gflops=backbone_gflops, title=title
    )


# ---- frame strips (FrameStripLogger) ---------------------------------------------------------------------
def strips_wandb_record(split: str, strips: Sequence[Strip]) -> dict:
    """``<split>/frame_bins``: the strips as W&B images with their captions."""
    import wandb

    return {f"{split}/frame_bins": [wandb.Image(image, caption=caption) for image, caption in strips]}


def write_strip_files(folder: Path, stem: str, strips: Sequence[Strip]) -> None:
    """``<stem>_frame_bins_<i>.png`` and its caption ``<stem>_frame_bins_<i>.txt`` in ``folder``."""
    for i, (image, caption) in enumerate(strips):
        save_png(folder / f"{stem}_frame_bins_{i}.png", image)
        (folder / f"{stem}_frame_bins_{i}.txt").write_text(caption + "\n")


def _nan_to_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
