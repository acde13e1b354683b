"""Per-clip records of an evaluation, their statistics, and their W&B/CSV/PNG forms.

No Lightning, fvcore or model code here (``wandb`` and ``matplotlib`` are imported only when a
W&B object or a plot is made): the callbacks write these records, and the notebook and
:mod:`atfr_lightning.inspection` read them back with the same helpers.
"""

from atfr_lightning.records.clips import BASE_COLUMNS, KEY_COLUMNS, ClipRecords
from atfr_lightning.records.files import (
    plot_bins_histograms,
    plot_gflops_histogram,
    read_csv,
    save_png,
    write_csv,
)
from atfr_lightning.records.stats import GFLOPS_UNITS, integer_histogram, mean_by_class, pearson
from atfr_lightning.records.strips import frame_bins, frame_strip, strip_caption

__all__ = [
    "BASE_COLUMNS",
    "GFLOPS_UNITS",
    "KEY_COLUMNS",
    "ClipRecords",
    "frame_bins",
    "frame_strip",
    "integer_histogram",
    "mean_by_class",
    "pearson",
    "plot_bins_histograms",
    "plot_gflops_histogram",
    "read_csv",
    "save_png",
    "strip_caption",
    "write_csv",
]
