"""Stop training at the first non-finite loss or gradient, naming the step and the batch's videos."""

from __future__ import annotations

import lightning as L
import torch


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`NonFiniteGuard`; the message names the step, the epoch and the video ids."""


class NonFiniteGuard(L.Callback):
    """Check the training loss before every backward and the gradients before every optimizer step.

    A NaN at hour 30 otherwise trains on silently (the weights become NaN and every later
    checkpoint is useless). The error names the global step, the epoch and batch index, and the
    batch's ``video_index`` values (rows of the split's records), so the clip can be inspected.

    Gradients are not checked under ``16-mixed`` precision: its gradient scaler produces inf
    gradients by design and skips those steps itself.

    Args:
        check_gradients: also check every parameter's gradient before the optimizer step.
    """

    def __init__(self, *, check_gradients: bool = True) -> None:
        super().__init__()
        self.check_gradients = check_gradients
        self._where = ""

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        ids = batch.get("video_index") if isinstance(batch, dict) else None
        shown = ids.tolist() if isinstance(ids, torch.Tensor) else "unknown (the batch has no video_index)"
        self._where = (
            f"at global step {trainer.global_step} (epoch {trainer.current_epoch}, batch {batch_idx}); "
            f"the batch's video_index values: {shown}"
        )

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        if not self.check_gradients or str(trainer.precision).startswith("16"):
            return
        grads = [(name, p.grad) for name, p in pl_module.named_parameters() if p.grad is not None]
        if not grads:
            return
        finite = torch.stack([torch.isfinite(g).all() for _, g in grads])
        if not bool(finite.all()):
            bad = [name for (name, _), ok in zip(grads, finite.tolist()) if not ok]
            raise NonFiniteLossError(
                f"non-finite gradient in {len(bad)} parameter(s) (first: {', '.join(bad[:3])}) {self._where}; "
                "training stopped before the optimizer step (the weights are still finite)"
            )

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        # Before backward: a NaN loss is reported as such, not as the NaN gradients it would cause.
        if not bool(torch.isfinite(loss.detach()).all()):
            raise NonFiniteLossError(f"non-finite training loss {loss.detach().float().item()} {self._where}")
