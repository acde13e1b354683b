"""Log how many temporal bins each clip keeps in every SGS layer (W&B, or CSV/PNG files)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np

from atfr_lightning.callbacks.gather import gather_clip_rows, log_to_wandb, wandb_runs
from atfr_lightning.callbacks.per_clip import PerClipCallback
from atfr_lightning.records import ClipRecords, pearson
from atfr_lightning.records.writing import bins_wandb_record, integer_wandb_histogram, write_bins_files


class AdaptiveResolutionLogger(PerClipCallback):
    """Per-clip active bins B' of every SGS layer (each SlowFast pathway apart), for W&B or files.

    Reads ``pl_module.active_bins()`` ({layer: (N,) int64}) after each validation/test batch and
    the logits (N, K) the step returns. At the end of each validation and test epoch, with the
    clips of all DDP ranks gathered and logged once on rank 0 (``trainer/global_step`` in the
    record):

    * ``<split>/bins_hist/<layer>``: W&B histogram, one bar per integer B' = 1..T;
    * ``<split>/clips``: W&B table, one row per clip: video_index, view_index, label, prediction, correct,
      bins/<layer>, gflops (fvcore, multiply-adds) and, on the synthetic set, ``need``;
    * ``<split>/mean_bins_per_class``: W&B table (class, class name, mean B' per layer);
    * ``<split>/bins_need_corr/<layer>``: Pearson correlation of B' and the synthetic clip's
      recorded ``need`` (side-car ``*_meta.jsonl``), a ``self.log`` scalar.

    Mean B' per layer is already logged by the LightningModule as ``<split>/mean_bins/<layer>``;
    frame strips coloured by bin are :class:`FrameStripLogger`'s.
    In training, after the first step and then every ``train_every_n_steps`` steps, the batch's
    B' (all ranks) go to ``train/bins_hist/<layer>`` (a sampled subset). Without W&B (or with ``write_files=True``)
    the same records go to ``<run>/adaptive_resolution/<split>_epoch<E>_*`` as CSV and PNG.

    Args:
        num_frames: T of the evaluated clips (the histogram's last bar); ``None`` takes the
            network's ``num_frames``.
        crop_size: H = W for the GFLOPs column; ``None`` takes the network's ``crop_size``.
        train_every_n_steps: training histogram period in optimizer steps (0: never).
        write_files: write CSV/PNG files; ``None`` writes them only when no W&B run is logging.
    """

    def __init__(
        self,
        *,
        num_frames: int | None = None,
        crop_size: int | None = None,
        train_every_n_steps: int = 50,
        write_files: bool | None = None,
    ) -> None:
        super().__init__(num_frames=num_frames, crop_size=crop_size, write_files=write_files)
        if train_every_n_steps < 0:
            raise ValueError(f"train_every_n_steps must be >= 0, got {train_every_n_steps}")
        self.train_every_n_steps = train_every_n_steps

    # ---- evaluation ------------------------------------------------------------------------------
    def _finish(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, clips: ClipRecords) -> None:
        need = _synthetic_need(trainer, split, clips["video_index"])
        if need is not None:
            clips["need"] = need
            for layer in clips.layers:
                corr = pearson(clips.bins(layer), need)
                if not np.isnan(corr):
                    pl_module.log(f"{split}/bins_need_corr/{layer}", corr, sync_dist=False)
        num_classes = int(getattr(pl_module, "num_classes", clips["label"].max() + 1))
        class_names = _class_names(trainer, num_classes)
        max_bins = clips.max_bins(self.num_frames)
        per_class = clips.mean_bins_per_class(num_classes)
        if wandb_runs(trainer):
            log_to_wandb(
                trainer,
                bins_wandb_record(split, clips, per_class=per_class, class_names=class_names, max_bins=max_bins),
            )
        folder = self._output_folder(trainer, "adaptive_resolution")
        if folder is not None:
            write_bins_files(
                folder,
                f"{split}_epoch{trainer.current_epoch:03d}",
                clips,
                per_class=per_class,
                class_names=class_names,
                max_bins=max_bins,
                title=f"{split}, epoch {trainer.current_epoch}: active bins per clip",
            )

    # ---- training: a sampled subset ------------------------------------------------------------------
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # global_step already counts this batch's optimizer step: log after steps 1, n + 1, 2n + 1, ...
        if not self.train_every_n_steps or (trainer.global_step - 1) % self.train_every_n_steps:
            return
        bins = pl_module.active_bins()
        if not bins:
            return
        rows = gather_clip_rows(trainer, {name: value.cpu().long() for name, value in bins.items()})
        if wandb_runs(trainer):
            record = {
                f"train/bins_hist/{layer}": integer_wandb_histogram(
                    values.numpy(), max_value=int(max(self.num_frames or 1, values.max()))
                )
                for layer, values in rows.items()
            }
            log_to_wandb(trainer, record)


def _class_names(trainer: L.Trainer, num_classes: int) -> list[str]:
    datamodule = getattr(trainer, "datamodule", None)
    try:
        names = datamodule.load_class_names()
        if len(names) == num_classes:
            return [str(n) for n in names]
    except Exception:  # a datamodule without class names, or data not prepared: fall back to ids
        pass
    return [str(c) for c in range(num_classes)]


def _synthetic_need(trainer: L.Trainer, split: str, video_index: np.ndarray) -> np.ndarray | None:
    """Each clip's recorded ``need`` from the synthetic set's side-car metadata, or None."""
    dataset_dir = getattr(getattr(trainer, "datamodule", None), "dataset_dir", None)
    if dataset_dir is None:
        return None
    # SyntheticDataModule reads val.csv for both validation and test (split_records).
    path = Path(dataset_dir) / ("train_meta.jsonl" if split == "train" else "val_meta.jsonl")
    if not path.is_file() or (video_index < 0).any():
        return None
    need = np.array([json.loads(line)["need"] for line in path.read_text().splitlines() if line.strip()])
    return need[video_index]
