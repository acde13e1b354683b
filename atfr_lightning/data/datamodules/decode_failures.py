"""End-of-epoch report of the videos a ClipDataset skipped (gathered over workers and ranks)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics.utilities.distributed import gather_all_tensors

SPLITS = ("train", "val", "test")
# Names shown in one warning; the full list is in ``history``.
_SHOWN = 20


class DecodeFailureSummary(L.Callback):
    """Count and name, at the end of each epoch, the videos that could not be read.

    Reads ``batch["decode_failures"]`` ((N, F) int64 video indices padded with -1, see
    :func:`atfr_lightning.data.video.clip_dataset.collate_clips`) from every train / val / test
    batch, gathers them from all DDP ranks, and at the end of the epoch logs
    ``<split>/decode_failures`` (number of skipped items) and warns once with the file names,
    which it takes from ``trainer.datamodule.<split>_dataset.records``. Sanity-check
    batches are not reported.

    :class:`atfr_lightning.data.datamodules.video.VideoDataModule` adds one to the trainer in ``setup``
    when none is there, so configs need not list it.

    Attributes:
        history: One dict per epoch with failures: ``split``, ``epoch``, ``skipped`` (items
            replaced) and ``files`` (distinct paths, sorted).
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any]] = []
        self._pending: dict[str, list[torch.Tensor]] = {split: [] for split in SPLITS}

    def _collect(self, split: str, batch: Any) -> None:
        failures = batch.get("decode_failures") if isinstance(batch, dict) else None
        if failures is not None and failures.numel():
            failures = failures.detach().to("cpu", torch.int64).flatten()
            self._pending[split].append(failures[failures >= 0])

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._collect("train", batch)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self._collect("val", batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._collect("test", batch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._report(trainer, pl_module, "train")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            self._pending["val"].clear()
            return
        self._report(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._report(trainer, pl_module, "test")

    def _report(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        pending, self._pending[split] = self._pending[split], []
        local = torch.cat(pending) if pending else torch.zeros(0, dtype=torch.int64)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # gather_all_tensors pads and trims uneven lengths; gloo and NCCL both need the same device.
            device = pl_module.device
            local = torch.cat([t.cpu() for t in gather_all_tensors(local.to(device))])
        # Every rank holds the same gathered count: the sync averages equal values.
        pl_module.log(f"{split}/decode_failures", float(local.numel()), on_epoch=True, sync_dist=True)
        if not local.numel():
            return
        dataset = getattr(trainer.datamodule, f"{split}_dataset", None) if trainer.datamodule is not None else None
        counts = Counter(local.tolist())
        if dataset is not None and hasattr(dataset, "records"):
            files = sorted(str(dataset.records[index].path) for index in counts)
        else:
            files = sorted(f"video index {index}" for index in counts)
        self.history.append({"split": split, "epoch": trainer.current_epoch, "skipped": local.numel(), "files": files})
        more = f" and {len(files) - _SHOWN} more" if len(files) > _SHOWN else ""
        rank_zero_warn(
            f"{split} epoch {trainer.current_epoch}: {local.numel()} item(s) replaced because {len(files)} "
            f"video(s) could not be read: {', '.join(files[:_SHOWN])}{more}"
        )
