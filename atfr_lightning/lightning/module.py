"""The LightningModule: a video classifier around an injected network (SGS or not)."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from atfr_lightning.lightning.optim import OPTIMIZERS, build_optimizer, warmup_cosine
from atfr_lightning.lightning.resume import capture_rng_states, load_metric_states, metric_states, restore_rng_states
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.inference import folded_copy
from atfr_lightning.models.layout import LAYOUTS, inference_layout


class VideoClassifier(L.LightningModule):
    """Cross-entropy video classification with top-1/top-5 accuracy and SGS bin logging.

    Batches are dicts with ``"video"`` (N, 3, T, H, W) float and ``"label"`` (N,) int64.
    ``forward`` returns logits (N, num_classes).

    Args:
        net: the network, e.g. :class:`atfr_lightning.models.SGSNetwork` (injected so configs
            choose the backbone and SGS options in one place).
        optimizer: ``"sgd"`` (momentum, Nesterov) or ``"adamw"``.
        lr: peak learning rate, reached after warm-up.
        weight_decay: applied to weights only, not to batch-norm parameters or biases.
        momentum: SGD momentum.
        warmup_epochs: linear warm-up length (fractions allowed), then cosine decay to 0.
        warmup_start_factor: the warm-up starts at ``lr * warmup_start_factor``.
        label_smoothing: cross-entropy label smoothing.
        sgs_start_epoch: the warm start in one run: for epochs ``0 .. sgs_start_epoch - 1`` the
            network's SGS layers are bypassed (it trains, and validates, as the plain
            backbone); from that epoch on SGS is inserted and the whole network fine-tunes on
            the continuing schedule. 0 (default) trains with SGS from the start, which
            collapses on the synthetic task (docs/sgs.md). Evaluation outside ``fit`` always
            runs with SGS.
        fold_for_predict: ``predict`` runs a copy of the network with batch norm folded into
            the convolutions (:func:`atfr_lightning.models.inference.folded_copy`): the same
            logits with fewer operators. The trained network itself is never changed.
        predict_layout: the memory layout of that folded copy: ``"auto"`` (default) runs it
            channels-last 3D on a CPU where the network has depthwise convolutions (X3D, CSN;
            X3D-S 1.4-1.9x faster from batch 2, :mod:`atfr_lightning.models.layout`) and
            contiguous otherwise; ``"contiguous"`` or ``"channels_last"`` force one. The same
            logits up to float rounding.
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        optimizer: str = "sgd",
        lr: float = 0.1,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        warmup_epochs: float = 0.0,
        warmup_start_factor: float = 0.1,
        label_smoothing: float = 0.0,
        sgs_start_epoch: int = 0,
        fold_for_predict: bool = True,
        predict_layout: str = "auto",
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
        if not isinstance(sgs_start_epoch, int) or isinstance(sgs_start_epoch, bool) or sgs_start_epoch < 0:
            raise ValueError(f"sgs_start_epoch must be an integer >= 0, got {sgs_start_epoch!r}")
        if predict_layout not in LAYOUTS:
            raise ValueError(f"predict_layout must be one of {LAYOUTS}, got {predict_layout!r}")
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self._set_predict_net(None)
        num_classes = getattr(net, "num_classes", None)
        if num_classes is None:
            raise ValueError("net must expose num_classes (e.g. atfr_lightning.models.SGSNetwork)")
        self.num_classes = num_classes
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        top_k = min(5, num_classes)
        metrics = MetricCollection(
            {
                "top1": MulticlassAccuracy(num_classes=num_classes, top_k=1, average="micro"),
                f"top{top_k}": MulticlassAccuracy(num_classes=num_classes, top_k=top_k, average="micro"),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        layers = self.sgs_layer_names()
        self.mean_bins = nn.ModuleDict(
            {f"{split}_bins": nn.ModuleDict({name: MeanMetric() for name in layers}) for split in ("train", "val", "test")}
        )
        # The training loss's epoch mean as a metric object, so a resumed epoch keeps its first batches.
        self.train_loss = MeanMetric()
        self.class_names: list[str] | None = None  # from the datamodule when saved, or a checkpoint

    def _set_predict_net(self, net: nn.Module | None) -> None:
        # Not a registered submodule: it must never reach a checkpoint or an optimizer.
        self.__dict__["_predict_net"] = net

    def running_net(self) -> nn.Module:
        """The network forward runs: the folded copy during ``predict``, else ``net``."""
        return self.__dict__["_predict_net"] or self.net

    def sgs_layer_names(self) -> list[str]:
        return list(self.net.sgs_layers()) if isinstance(self.net, AdaptiveTemporalNetwork) else []

    def active_bins(self) -> dict[str, torch.Tensor]:
        """Per-clip active bins (N,) of every SGS layer from the last forward."""
        net = self.running_net()
        if not isinstance(net, AdaptiveTemporalNetwork):
            return {}
        return {
            name: layer.last_active_bins
            for name, layer in net.sgs_layers().items()
            if layer.last_active_bins is not None
        }

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.running_net()(video)

    def _set_sgs_enabled(self, enabled: bool) -> None:
        if isinstance(self.net, AdaptiveTemporalNetwork):
            self.net.sgs_enabled = enabled

    def on_fit_start(self) -> None:
        start = self.hparams.sgs_start_epoch
        # A fast_dev_run checks the whole path, SGS included, in one step.
        self._sgs_start = 0 if self.trainer.fast_dev_run else start
        if self._sgs_start and self.sgs_layer_names() and self.trainer.max_epochs is not None:
            if self._sgs_start >= self.trainer.max_epochs:
                raise ValueError(
                    f"sgs_start_epoch={start} is not below trainer.max_epochs={self.trainer.max_epochs}: "
                    "SGS would never be trained; lower it or train longer"
                )
        # Before the sanity-check validation, which runs ahead of the first training epoch.
        self._set_sgs_enabled(self.current_epoch >= self._sgs_start)

    def on_train_start(self) -> None:
        # After a checkpoint's loops are restored (on_fit_start comes before), and also when a run
        # resumes mid-epoch, where Lightning does not call on_train_epoch_start.
        self._set_sgs_enabled(self.current_epoch >= self._sgs_start)
        states = getattr(self, "_rng_states_to_restore", None)
        if states is not None:
            # Here, after the loaders' iterators drew their seeds, right before the next batch:
            # the generators then continue exactly as in the uninterrupted run (dropout, etc.).
            restore_rng_states(states)
            self._rng_states_to_restore = None
        saved = getattr(self, "_epoch_metrics_to_restore", None)
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if saved is not None and 0 < done < self.trainer.num_training_batches:
            # Resumed mid-epoch: the epoch's aggregates continue from the batches already trained.
            load_metric_states(self._train_epoch_metrics(), saved)
        self._epoch_metrics_to_restore = None

    def _train_epoch_metrics(self) -> dict:
        metrics = {f"top/{name}": metric for name, metric in self.train_metrics.items()}
        metrics.update({f"bins/{name}": metric for name, metric in self.mean_bins["train_bins"].items()})
        metrics["loss"] = self.train_loss
        return metrics

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Lightning saves neither the global generators nor the training epoch's partial metric
        # aggregates; a run resumed from this checkpoint needs both to continue the same run.
        checkpoint["rng_states"] = capture_rng_states()
        checkpoint["train_epoch_metrics"] = metric_states(self._train_epoch_metrics())
        # Class names travel with the weights, so predictions on any data can name their classes.
        names = self.class_names or _datamodule_class_names(self._trainer)
        if names:
            checkpoint["class_names"] = list(names)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._rng_states_to_restore = checkpoint.get("rng_states")
        self._epoch_metrics_to_restore = checkpoint.get("train_epoch_metrics")
        self.class_names = checkpoint.get("class_names") or self.class_names

    def on_train_epoch_start(self) -> None:
        # Decided from the epoch, so a run resumed from a checkpoint picks the right phase.
        self._set_sgs_enabled(self.current_epoch >= self._sgs_start)

    def on_fit_end(self) -> None:
        self._set_sgs_enabled(True)

    def on_validation_start(self) -> None:
        if self.trainer.state.fn != "fit":
            self._set_sgs_enabled(True)

    def on_test_start(self) -> None:
        self._set_sgs_enabled(True)

    def on_predict_start(self) -> None:
        self._set_sgs_enabled(True)
        if self.hparams.get("fold_for_predict", True) and isinstance(self.net, AdaptiveTemporalNetwork):
            copy_ = folded_copy(self.net)
            layout = inference_layout(copy_, self.device, self.hparams.get("predict_layout", "auto"))
            self._set_predict_net(copy_.use_channels_last() if layout == "channels_last" else copy_)

    def on_predict_end(self) -> None:
        self._set_predict_net(None)

    def model_step(self, batch: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["video"])
        loss = self.criterion(logits, batch["label"])
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[split]
        metrics.update(logits, batch["label"])
        if split == "train":
            self.train_loss(loss.detach(), weight=len(logits))  # forward: this batch's value for on_step
            self.log("train/loss", self.train_loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits))
        else:
            # Synchronised: under DDP the epoch value is the batch-size weighted mean over all ranks.
            self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(logits),
                     sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=True)
        for name, bins in self.active_bins().items():
            tracker = self.mean_bins[f"{split}_bins"][name]
            tracker.update(bins.float())
            self.log(f"{split}/mean_bins/{name}", tracker, on_step=False, on_epoch=True, prog_bar=True)
        return loss, logits

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "train")[0]

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "val")[1]

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.model_step(batch, "test")[1]

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        logits = self(batch["video"])
        out = {"logits": logits, "prediction": logits.argmax(dim=1)}
        out.update({f"active_bins/{name}": bins for name, bins in self.active_bins().items()})
        return out

    def configure_optimizers(self) -> dict:
        hp = self.hparams
        optimizer = build_optimizer(
            self.net, name=hp.optimizer, lr=hp.lr, weight_decay=hp.weight_decay, momentum=hp.momentum
        )
        total_steps = max(int(self.trainer.estimated_stepping_batches), 1)
        if self.trainer.ckpt_path is not None:
            # estimated_stepping_batches built the training loader before the checkpoint's loops
            # were restored, and Lightning would then never hand the loader its saved position
            # (ResumableDataLoader): let the fit loop build it again after the restore.
            self.trainer.fit_loop._combined_loader = None
        max_epochs = max(self.trainer.max_epochs or 1, 1)
        warmup_steps = int(round(hp.warmup_epochs * total_steps / max_epochs))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            warmup_cosine(
                total_steps=total_steps, warmup_steps=warmup_steps, warmup_start_factor=hp.warmup_start_factor
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def _datamodule_class_names(trainer) -> list[str] | None:
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    try:
        names = getattr(datamodule, "class_names", None)
    except Exception:  # noqa: BLE001 - annotations absent: the checkpoint simply carries no names
        return None
    return list(names) if names else None
