"""Each validation's scalar metrics, appended to a file a sweep runner polls (for hyperband stopping)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from atfr_lightning.sweeping.spec import HISTORY_ENV


class SweepHistoryWriter(L.Callback):
    """Append ``{"epoch", "step", <metric>: value, ...}`` to ``path`` after every validation (rank 0).

    The first line names the W&B run's folder (``{"wandb_run_dir": ...}``) when a WandbLogger is on.

    W&B's transaction log is flushed in blocks, so a sweep runner cannot follow a run's history
    through it while the run trains; this line-per-validation file is the live channel. The CLI
    adds this callback by itself when ``ATFR_SWEEP_HISTORY`` names a file (``atfr-sweep`` sets it).
    """

    def __init__(self, *, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Where the W&B run lives, so the runner reads that run's summary wherever the config put it.
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                self._append({"wandb_run_dir": str(Path(logger.experiment.dir).parent)})

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on_validation_end: the epoch-level metrics are final here (ModelCheckpoint reads them here too).
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        row: dict = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        for name, value in trainer.callback_metrics.items():
            value = float(value)
            if math.isfinite(value):
                row[name] = value
        self._append(row)

    def _append(self, row: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def sweep_history_callbacks() -> list[SweepHistoryWriter]:
    """The writer when a sweep runner asked for it through ``ATFR_SWEEP_HISTORY``, else nothing."""
    path = os.environ.get(HISTORY_ENV)
    return [SweepHistoryWriter(path=path)] if path else []
