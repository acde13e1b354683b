"""Statistics of per-clip columns: integer histograms, per-class means, correlations."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
