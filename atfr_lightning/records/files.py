"""CSV files and PNG plots of per-clip records (matplotlib imported only when plotting)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from atfr_lightning.records.stats import GFLOPS_UNITS, integer_histogram


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
    plt = _pyplot()
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
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(gflops, bins=20)
    ax.axvline(backbone_gflops, color="k", linestyle="--", label="backbone without SGS")
    ax.set_xlabel(GFLOPS_UNITS)
    ax.set_ylabel("clips")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image as PNG."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, image)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
