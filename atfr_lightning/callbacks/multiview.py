"""Multi-view test accuracy per video (mean softmax over clips x crops), logged at test end."""

from __future__ import annotations

import lightning as L
import torch

from atfr_lightning.metrics.multiview import MultiViewAccuracy


class MultiViewTestAccuracy(L.Callback):
    """Aggregate the test step's logits per video and log multi-view accuracy.

    The LightningModule's ``test_step`` must return the logits ``(N, K)`` of the batch (or a
    dict with ``"logits"``); the batches must carry ``"label"``, ``"video_index"`` and
    ``"view_index"`` ``(N,)`` (every :class:`atfr_lightning.data.VideoDataModule` does). The
    number of videos and of views per video are read from ``trainer.datamodule.test_dataset``
    (``num_videos``, ``views_per_video``), the number of classes from the logits.

    Logs, at the end of the test epoch (the same value on every rank, so ``sync_dist`` is a
    no-op average; duplicates from DDP padding removed):

    * ``test/top1_multiview``, ``test/top5_multiview``: accuracy of the per-video mean softmax;
    * ``test/top1_per_view``: accuracy over distinct single views (the module's own
      ``test/top1`` is the same figure per batch, padding duplicates included);
    * ``test/num_videos_multiview``: videos with at least one view.

    Attributes:
        metric: The :class:`MultiViewAccuracy` of the last test run.
        results: Its ``compute()`` as floats.
    """

    def __init__(self) -> None:
        super().__init__()
        self.metric: MultiViewAccuracy | None = None
        self.results: dict[str, float] = {}
        self._shape = (0, 0)  # (videos, views per video) of the running test, set when it starts

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        dataset = getattr(trainer.datamodule, "test_dataset", None) if trainer.datamodule is not None else None
        if dataset is None or not hasattr(dataset, "num_videos") or not hasattr(dataset, "views_per_video"):
            raise ValueError(
                "MultiViewTestAccuracy needs trainer.datamodule.test_dataset with num_videos and views_per_video "
                f"(an atfr_lightning VideoDataModule), got {type(dataset).__name__}"
            )
        self._shape = (dataset.num_videos, dataset.views_per_video)
        self.metric = None
        self.results = {}

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        logits = outputs.get("logits") if isinstance(outputs, dict) else outputs
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            raise ValueError(
                "MultiViewTestAccuracy needs test_step to return the logits (N, K) (or a dict with 'logits'), "
                f"got {type(outputs).__name__}"
            )
        missing = [key for key in ("label", "video_index", "view_index") if key not in batch]
        if missing:
            raise ValueError(f"MultiViewTestAccuracy needs the batch keys {missing}; the batch has {sorted(batch)}")
        if self.metric is None:
            num_videos, num_views = self._shape
            self.metric = MultiViewAccuracy(
                num_videos=num_videos,
                num_views=num_views,
                num_classes=logits.shape[1],
                top_k=(1, 5) if logits.shape[1] >= 5 else (1,),
            ).to(logits.device)
        self.metric.update(logits, batch["label"], batch["video_index"], batch["view_index"])

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.metric is None:
            return
        computed = self.metric.compute()
        self.results = {name: float(value) for name, value in computed.items()}
        for k in self.metric.top_k:
            pl_module.log(f"test/top{k}_multiview", self.results[f"top{k}"], sync_dist=True)
        pl_module.log("test/top1_per_view", self.results["top1_per_view"], sync_dist=True)
        pl_module.log("test/num_videos_multiview", self.results["num_videos"], sync_dist=True)
