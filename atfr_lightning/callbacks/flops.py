"""Log GFLOPs: the backbone's static cost, then per-clip GFLOPs from each clip's active bins."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch

from atfr_lightning.callbacks.gather import gather_clip_rows, log_to_wandb, run_folder, wandb_runs
from atfr_lightning.callbacks.records import GFLOPS_UNITS, plot_gflops_histogram, write_csv
from atfr_lightning.flops import cached_cost_table
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork


def cost_table_for(
    net: torch.nn.Module, *, num_frames: int | None, crop_size: int | None, trainer: L.Trainer | None = None
):
    """The network's cost table, counted once per (network, T, crop) and shared by every callback.

    ``None`` for a network without SGS support. ``trainer`` is accepted for call compatibility.
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


class FlopsLogger(L.Callback):
    """Log GFLOPs (fvcore, multiply-adds, one clip) of an adaptive network to W&B or to files.

    At the start: the backbone's GFLOPs without SGS and the cost-per-B' table. After every
    validation and test epoch: per-clip GFLOPs (N,) looked up from each clip's active bins,
    gathered over DDP ranks, as ``<split>/gflops/mean`` and ``<split>/gflops/ratio_to_backbone``
    (``self.log`` scalars, usable by checkpoints and sweeps) and a W&B histogram
    ``<split>/gflops/per_clip``. Without W&B the same numbers go to ``<run>/flops/`` as
    ``<split>_epoch<E>_gflops.csv`` (video_index, view_index, gflops) and a PNG histogram.

    Args:
        num_frames: T of the evaluated clips; ``None`` takes the network's ``num_frames``.
        crop_size: H = W of the evaluated clips; ``None`` takes the network's ``crop_size``.
        write_files: write CSV/PNG files; ``None`` writes them only when no W&B run is logging.
    """

    def __init__(
        self, *, num_frames: int | None = None, crop_size: int | None = None, write_files: bool | None = None
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.write_files = write_files
        self.table = None
        self._rows: dict[str, list[torch.Tensor]] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.table is None:
            self.table = cost_table_for(
                pl_module.net, num_frames=self.num_frames, crop_size=self.crop_size, trainer=trainer
            )

    def _files_on(self, trainer: L.Trainer) -> bool:
        if trainer.global_rank != 0:
            return False
        return self.write_files if self.write_files is not None else not wandb_runs(trainer)

    def _log_static(self, trainer: L.Trainer) -> None:
        if self.table is None:
            return
        rows = [[str(bins), float(gflops)] for bins, gflops in self.table.per_bins.items()]
        for run in wandb_runs(trainer):
            import wandb

            run.summary.update({"flops/backbone_gflops": self.table.backbone_gflops, "flops/units": GFLOPS_UNITS})
            log_to_wandb(
                trainer,
                {
                    "flops/backbone_gflops": self.table.backbone_gflops,
                    "flops/gflops_per_bins": wandb.Table(columns=["active_bins", "gflops"], data=rows),
                },
            )
        # trainer.log_dir is a collective under DDP (a broadcast): every rank must ask for it.
        folder = Path(run_folder(trainer)) / "flops"
        if self._files_on(trainer):
            write_csv(folder / "cost_table.csv", {"active_bins": [r[0] for r in rows], "gflops": [r[1] for r in rows]})
            (folder / "backbone_gflops.txt").write_text(f"{self.table.backbone_gflops:.6f} {GFLOPS_UNITS}\n")

    def on_fit_start(self, trainer, pl_module) -> None:
        self._log_static(trainer)

    def on_test_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "test":
            self._log_static(trainer)

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "validate":
            self._log_static(trainer)

    def _start(self) -> None:
        self._rows = {"video_index": [], "view_index": [], "gflops": []}

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def _batch(self, pl_module: L.LightningModule, batch: dict) -> None:
        num_clips = len(batch["label"])
        gflops = per_clip_gflops(self.table, pl_module.active_bins(), num_clips=num_clips)
        if gflops is None:
            return
        index = batch.get("video_index", torch.full((num_clips,), -1))
        self._rows["video_index"].append(torch.as_tensor(index).cpu().long())
        self._rows["view_index"].append(torch.as_tensor(batch.get("view_index", torch.zeros(num_clips))).cpu().long())
        self._rows["gflops"].append(gflops.cpu())

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(pl_module, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(pl_module, batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "test")

    def _end(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        if self.table is None or trainer.sanity_checking or not self._rows.get("gflops"):
            return
        local = {name: torch.cat(parts) for name, parts in self._rows.items()}
        rows = gather_clip_rows(trainer, local)
        gflops = rows["gflops"].numpy()
        mean = float(gflops.mean())
        ratio = mean / float(self.table.backbone_gflops)
        # Every rank holds the gathered numbers, so every rank logs the same value (no sync needed)
        # and ModelCheckpoint can monitor them on any rank.
        pl_module.log(f"{split}/gflops/mean", mean, sync_dist=False)
        pl_module.log(f"{split}/gflops/ratio_to_backbone", ratio, sync_dist=False)
        runs = wandb_runs(trainer)
        if runs:
            import wandb

            log_to_wandb(trainer, {f"{split}/gflops/per_clip": wandb.Histogram(gflops, num_bins=32)})
        # trainer.log_dir is a collective under DDP (a broadcast): every rank must ask for it.
        folder = Path(run_folder(trainer)) / "flops"
        if self._files_on(trainer):
            stem = f"{split}_epoch{trainer.current_epoch:03d}"
            write_csv(
                folder / f"{stem}_gflops.csv",
                {"video_index": rows["video_index"].tolist(), "view_index": rows["view_index"].tolist(),
                 "gflops": gflops.tolist()},
            )
            plot_gflops_histogram(
                folder / f"{stem}_gflops.png",
                np.asarray(gflops),
                backbone_gflops=float(self.table.backbone_gflops),
                title=f"{split}, epoch {trainer.current_epoch}: mean {mean:.4f}, ratio {ratio:.3f}",
            )
