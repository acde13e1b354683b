"""The per-clip record of one evaluation: one row per (video_index, view_index), all ranks gathered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from atfr_lightning.records.stats import mean_by_class

# The columns every evaluation batch gives, in table order; then correct, bins/<layer>, gflops, need.
KEY_COLUMNS = ("video_index", "view_index")
BASE_COLUMNS = (*KEY_COLUMNS, "label", "prediction")


@dataclass
class ClipRecords:
    """Per-clip columns (each (N,) numpy) of one validation or test epoch.

    Columns: ``video_index``, ``view_index`` (the key: a clip is one view of one video),
    ``label``, ``prediction`` (-1 when the step returned no logits), ``bins/<layer>`` (active
    bins B' of each SGS layer, one per SlowFast pathway), and when known ``gflops`` (fvcore,
    multiply-adds, one clip) and ``need`` (the synthetic set's recorded need).
    """

    columns: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = np.asarray(values)

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def layers(self) -> list[str]:
        """SGS layer names, in the order the network reports them."""
        return [name.split("/", 1)[1] for name in self.columns if name.startswith("bins/")]

    def bins(self, layer: str) -> np.ndarray:
        return self.columns[f"bins/{layer}"]

    @property
    def gflops(self) -> np.ndarray | None:
        return self.columns.get("gflops")

    def mean_gflops(self) -> float | None:
        """Mean per-clip GFLOPs over the clips; None when the clips were not priced."""
        return None if self.gflops is None or len(self.gflops) == 0 else float(self.gflops.mean())

    def correct(self) -> np.ndarray:
        return (self.columns["prediction"] == self.columns["label"]).astype(np.int64)

    def table(self) -> dict[str, np.ndarray]:
        """The columns in table order, with ``correct``: key, label, prediction, correct, bins, gflops, need."""
        names = [*BASE_COLUMNS, "correct", *[f"bins/{layer}" for layer in self.layers]]
        names += [name for name in ("gflops", "need") if name in self.columns]
        return {name: self.correct() if name == "correct" else self.columns[name] for name in names}

    def max_bins(self, num_frames: int | None) -> int:
        """The histograms' last bar: T, or a larger B' if a clip has one."""
        return int(max([num_frames or 1] + [self.bins(layer).max() for layer in self.layers]))

    def mean_bins_per_class(self, num_classes: int) -> dict[str, np.ndarray]:
        """Per layer, mean B' of each class (num_classes,), NaN for a class with no clip."""
        return {
            layer: mean_by_class(self.bins(layer), self.columns["label"], num_classes=num_classes)
            for layer in self.layers
        }
