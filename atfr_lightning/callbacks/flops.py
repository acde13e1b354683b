"""Log GFLOPs: the backbone's static cost, then per-clip GFLOPs from each clip's active bins."""

from __future__ import annotations

import lightning as L

from atfr_lightning.callbacks.gather import log_to_wandb, wandb_runs
from atfr_lightning.callbacks.per_clip import PerClipCallback, cost_table_for, per_clip_gflops
from atfr_lightning.records import GFLOPS_UNITS, ClipRecords
from atfr_lightning.records.writing import (
    cost_table_wandb_record,
    gflops_wandb_record,
    write_cost_table_files,
    write_gflops_files,
)

__all__ = ["FlopsLogger", "cost_table_for", "per_clip_gflops"]


class FlopsLogger(PerClipCallback):
    """Log GFLOPs (fvcore, multiply-adds, one clip) of an adaptive network to W&B or to files.

    At the start: the backbone's GFLOPs without SGS and the cost-per-B' table. After every
    validation and test epoch: per-clip GFLOPs (N,) looked up from each clip's active bins,
    gathered over DDP ranks, as ``<split>/gflops/ratio_to_backbone`` (their mean over the
    backbone without SGS, a ``self.log`` scalar usable by checkpoints and sweeps; the mean itself
    is ``<split>/gflops/mean``, see :class:`PerClipCallback`) and a W&B histogram
    ``<split>/gflops/per_clip``. Without W&B the same numbers go to ``<run>/flops/`` as
    ``<split>_epoch<E>_gflops.csv`` (video_index, view_index, gflops) and a PNG histogram.

    Args:
        num_frames: T of the evaluated clips; ``None`` takes the network's ``num_frames``.
        crop_size: H = W of the evaluated clips; ``None`` takes the network's ``crop_size``.
        write_files: write CSV/PNG files; ``None`` writes them only when no W&B run is logging.
    """

    def _log_static(self, trainer: L.Trainer) -> None:
        if self.table is None:
            return
        per_bins, backbone = self.table.per_bins, float(self.table.backbone_gflops)
        runs = wandb_runs(trainer)
        for run in runs:
            run.summary.update({"flops/backbone_gflops": self.table.backbone_gflops, "flops/units": GFLOPS_UNITS})
        if runs:
            record = cost_table_wandb_record(per_bins, backbone_gflops=self.table.backbone_gflops)
            log_to_wandb(trainer, record)
        folder = self._output_folder(trainer, "flops")
        if folder is not None:
            write_cost_table_files(folder, per_bins, backbone_gflops=backbone)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._log_static(trainer)

    def on_test_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "test":
            self._log_static(trainer)

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "validate":
            self._log_static(trainer)

    def _finish(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, clips: ClipRecords) -> None:
        mean = clips.mean_gflops()
        if self.table is None or mean is None:
            return
        ratio = mean / float(self.table.backbone_gflops)
        pl_module.log(f"{split}/gflops/ratio_to_backbone", ratio, sync_dist=False)
        if wandb_runs(trainer):
            log_to_wandb(trainer, gflops_wandb_record(split, clips))
        folder = self._output_folder(trainer, "flops")
        if folder is not None:
            write_gflops_files(
                folder,
                f"{split}_epoch{trainer.current_epoch:03d}",
                clips,
                backbone_gflops=float(self.table.backbone_gflops),
                title=f"{split}, epoch {trainer.current_epoch}: mean {mean:.4f}, ratio {ratio:.3f}",
            )
