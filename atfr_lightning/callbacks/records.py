"""Pure helpers behind the adaptive-resolution callbacks: statistics, CSV files, PNG plots.

No Lightning and no W&B here, so the same numbers go to W&B and to the local files, and the
notebook can reuse them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

GFLOPS_UNITS = "GFLOPs (fvcore, multiply-adds, one clip)"


def integer_histogram(values: Sequence[int] | np.ndarray, *, max_value: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts (max_value,) of each integer 1..max_value and edges (max_value + 1,) at k +- 0.5.

    One bar per integer bin count, so a W&B histogram shows B' = 3 as one bar, never split.
    """
    values = np.asarray(values, dtype=np.int64)
    edges = np.arange(0.5, max_value + 1.0, 1.0)
    counts = np.bincount(np.clip(values, 0, max_value), minlength=max_value + 1)[1:]
    return counts, edges


def mean_by_class(values: np.ndarray, labels: np.ndarray, *, num_classes: int) -> np.ndarray:
    """Mean of ``values`` (N,) per class (num_classes,); NaN for a class with no clip."""
    sums = np.bincount(labels, weights=values.astype(np.float64), minlength=num_classes)[:num_classes]
    counts = np.bincount(labels, minlength=num_classes)[:num_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two (N,) arrays; NaN when either is constant or N < 2."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def write_csv(path: str | Path, columns: Mapping[str, Sequence]) -> Path:
    """Write equal-length columns as a CSV with a header row; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*(list(columns[name]) for name in names)))
    return path


def read_csv(path: str | Path) -> dict[str, list[str]]:
    """Columns of a CSV written by :func:`write_csv`, as strings."""
    with Path(path).open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return {name: [row[i] for row in body] for i, name in enumerate(header)}


def plot_bins_histograms(path: str | Path, bins: Mapping[str, np.ndarray], *, max_bins: int, title: str) -> Path:
    """PNG with one integer histogram of active bins per SGS layer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(len(bins), 1), figsize=(4 * max(len(bins), 1), 3), squeeze=False)
    for ax, (layer, values) in zip(axes[0], bins.items()):
        counts, _ = integer_histogram(values, max_value=max_bins)
        ax.bar(np.arange(1, max_bins + 1), counts, width=0.8)
        ax.set_xlabel(f"active bins B' ({layer})")
        ax.set_ylabel("clips")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_gflops_histogram(path: str | Path, gflops: np.ndarray, *, backbone_gflops: float, title: str) -> Path:
    """PNG histogram of per-clip GFLOPs with the backbone without SGS as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(gflops, bins=20)
    ax.axvline(backbone_gflops, color="k", linestyle="--", label="backbone without SGS")
    ax.set_xlabel(GFLOPS_UNITS)
    ax.set_ylabel("clips")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# Distinct colours for bin ids (tab10-like), cycled for more bins; grey marks a dropped slice.
_PALETTE = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207], [127, 127, 127]],
    dtype=np.uint8,
)
_DROPPED = np.array([40, 40, 40], dtype=np.uint8)


def frame_bins(kernel: np.ndarray, *, num_frames: int) -> np.ndarray:
    """Bin of each input frame (num_frames,) from one clip's compact kernel (B'max, T_feat).

    A temporal slice goes to the bin with its largest weight; -1 when all its weights are 0 (the
    reference mode drops the most distinctive slice). When SGS sees fewer slices than input
    frames (a temporal stride before it), frame f belongs to slice floor(f * T_feat / num_frames).
    """
    slice_bin = np.where(kernel.max(axis=0) > 0, kernel.argmax(axis=0), -1)  # (T_feat,)
    steps = kernel.shape[1]
    return slice_bin[(np.arange(num_frames) * steps) // num_frames]


def frame_strip(frames: np.ndarray, bins_per_layer: Mapping[str, np.ndarray], *, bar: int = 6) -> np.ndarray:
    """uint8 image (H + bar * layers, T * W, 3): the frames side by side, a bar coloured by bin under each.

    Args:
        frames: (3, T, H, W) float frames of one clip (any normalisation; rescaled to 0..255).
        bins_per_layer: per SGS layer, the bin of each frame (T,), -1 for a dropped slice.
    """
    frames = np.asarray(frames, dtype=np.float64)
    low, high = frames.min(), frames.max()
    pixels = ((frames - low) / max(high - low, 1e-8) * 255).astype(np.uint8)  # (3, T, H, W)
    _, steps, height, width = pixels.shape
    row = pixels.transpose(2, 1, 3, 0).reshape(height, steps * width, 3)  # (H, T*W, 3)
    bars = []
    for bins in bins_per_layer.values():
        colours = np.where((np.asarray(bins) < 0)[:, None], _DROPPED, _PALETTE[np.asarray(bins) % len(_PALETTE)])
        bars.append(np.repeat(np.repeat(colours[None], bar, axis=0), width, axis=1))  # (bar, T*W, 3)
    return np.concatenate([row, *bars], axis=0)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, image)
    return path
