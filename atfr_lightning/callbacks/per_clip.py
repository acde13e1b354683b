"""The base of the evaluation callbacks: per-clip rows of every validation/test epoch, all ranks gathered.

Also the one place that prices a clip: :func:`cost_table_for` and :func:`per_clip_gflops`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import torch

from atfr_lightning.callbacks.gather import gather_clip_rows, run_folder, wandb_runs
from atfr_lightning.flops import cached_cost_table
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.records import ClipRecords

# The one name of the mean per-clip GFLOPs: ``<split>/gflops/mean`` (val, test).
MEAN_GFLOPS = "gflops/mean"


def cost_table_for(net: torch.nn.Module, *, num_frames: int | None, crop_size: int | None):
    """The network's cost table, counted once per (network, T, crop) and shared by every callback.

    ``None`` for a network without SGS support.
    """
    if not isinstance(net, AdaptiveTemporalNetwork):
        return None
    num_frames = num_frames or getattr(net, "num_frames", None)
    crop_size = crop_size or getattr(net, "crop_size", None)
    if num_frames is None or crop_size is None:
        raise ValueError(
            "GFLOPs need num_frames and crop_size: pass them to the callback, or use a network that "
            "exposes them (atfr_lightning.models.SGSNetwork does)"
        )
    return cached_cost_table(net, num_frames=num_frames, crop_size=crop_size)


def per_clip_gflops(table, bins: dict[str, torch.Tensor], *, num_clips: int) -> torch.Tensor | None:
    """GFLOPs (N,) float64 of each clip from its bins per SGS layer; None when the table cannot say."""
    if table is None:
        return None
    if not bins:
        return torch.full((num_clips,), float(table.backbone_gflops), dtype=torch.float64)
    try:
        return table.clip_gflops(bins).double()
    except (TypeError, ValueError, KeyError, AttributeError):
        if len(bins) == 1:  # a table that takes only the one layer's tensor
            return table.clip_gflops(next(iter(bins.values()))).double()
        warnings.warn(
            f"the cost table {type(table).__name__} cannot price clips with SGS layers {sorted(bins)}; "
            "per-clip GFLOPs are not logged",
            stacklevel=2,
        )
        return None


def clip_columns(pl_module: L.LightningModule, outputs, batch: dict, table) -> dict[str, torch.Tensor]:
    """One evaluation batch's per-clip columns (each (N,) on CPU): key, label, prediction, bins, gflops.

    ``outputs`` is what validation_step/test_step returned: logits (N, K) give the prediction,
    anything else leaves it -1. ``gflops`` is present when ``table`` prices the clips.
    """
    bins = pl_module.active_bins()
    labels = batch["label"].detach().cpu().long()
    num_clips = len(labels)
    columns = {
        "video_index": torch.as_tensor(batch.get("video_index", torch.full((num_clips,), -1))).cpu().long(),
        "view_index": torch.as_tensor(batch.get("view_index", torch.zeros(num_clips))).cpu().long(),
        "label": labels,
        "prediction": outputs.detach().argmax(dim=1).cpu().long()
        if isinstance(outputs, torch.Tensor) and outputs.dim() == 2
        else torch.full((num_clips,), -1),
    }
    columns.update({f"bins/{name}": value.detach().cpu().long() for name, value in bins.items()})
    gflops = per_clip_gflops(table, bins, num_clips=num_clips)
    if gflops is not None:
        columns["gflops"] = gflops.cpu()
    return columns


class PerClipCallback(L.Callback):
    """Collect per-clip rows in every validation and test epoch and hand them, gathered, to ``_finish``.

    After each evaluation batch (not in the sanity check) the batch's :func:`clip_columns` are
    kept; at the end of the epoch every rank gathers all ranks' rows (a clip repeated by DDP's
    padding sampler is kept once, keyed by (video_index, view_index)) and calls
    ``_finish(trainer, pl_module, split, clips)`` with the same :class:`ClipRecords` on every
    rank. Before that, the first such callback of the trainer that prices clips logs their mean
    GFLOPs as ``<split>/gflops/mean`` (``self.log``, the same value on every rank), so the figure
    has one name and one value however many of these callbacks run.

    Args:
        num_frames: T of the evaluated clips; ``None`` takes the network's ``num_frames``.
        crop_size: H = W of the evaluated clips (for GFLOPs); ``None`` takes the network's ``crop_size``.
        write_files: write CSV/PNG files; ``None`` writes them only when no W&B run is logging.
    """

    #: whether the rows carry ``gflops`` (counts the network's cost table with fvcore at setup).
    prices_clips = True

    def __init__(
        self, *, num_frames: int | None = None, crop_size: int | None = None, write_files: bool | None = None
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.write_files = write_files
        self.table = None
        self._parts: dict[str, list[torch.Tensor]] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        net = pl_module.net
        self.num_frames = self.num_frames or getattr(net, "num_frames", None)
        if self.table is None and self.prices_clips:
            self.table = cost_table_for(net, num_frames=self.num_frames, crop_size=self.crop_size)

    def _files_on(self, trainer: L.Trainer) -> bool:
        if trainer.global_rank != 0:
            return False
        return self.write_files if self.write_files is not None else not wandb_runs(trainer)

    def _output_folder(self, trainer: L.Trainer, name: str) -> Path | None:
        """``<run>/<name>`` when this rank writes CSV/PNG files, else None."""
        # trainer.log_dir is a collective under DDP (a broadcast): every rank must ask for it.
        folder = Path(run_folder(trainer)) / name
        return folder if self._files_on(trainer) else None

    # ---- the val/test hooks --------------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._parts = {}

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._parts = {}

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_end(trainer, pl_module, outputs, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_end(trainer, pl_module, outputs, batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._epoch_end(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._epoch_end(trainer, pl_module, "test")

    def _batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch: dict) -> None:
        if trainer.sanity_checking:
            return
        columns = clip_columns(pl_module, outputs, batch, self.table)
        for name, value in columns.items():
            self._parts.setdefault(name, []).append(value)
        self._on_batch(trainer, pl_module, batch, columns)

    def _epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        if trainer.sanity_checking or not self._parts:
            return
        local = {name: torch.cat(parts) for name, parts in self._parts.items()}
        self._parts = {}
        clips = ClipRecords({name: value.numpy() for name, value in gather_clip_rows(trainer, local).items()})
        mean = clips.mean_gflops()
        if mean is not None and self._logs_mean_gflops(trainer):
            # Every rank holds the gathered clips, so every rank logs the same value (no sync
            # needed) and ModelCheckpoint can monitor it on any rank.
            pl_module.log(f"{split}/{MEAN_GFLOPS}", mean, sync_dist=False)
        self._finish(trainer, pl_module, split, clips)

    def _logs_mean_gflops(self, trainer: L.Trainer) -> bool:
        pricing = [c for c in trainer.callbacks if isinstance(c, PerClipCallback) and c.table is not None]
        return bool(pricing) and pricing[0] is self

    # ---- for subclasses ------------------------------------------------------------------------------
    def _on_batch(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict, columns: dict) -> None:
        """Called after each evaluation batch's columns are kept (not in the sanity check)."""

    def _finish(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, clips: ClipRecords) -> None:
        """Called on every rank at the end of each validation/test epoch with the gathered clips."""
        raise NotImplementedError

