"""Draw the frames of a few evaluation clips with a bar under each frame coloured by its SGS bin."""

from __future__ import annotations

import lightning as L
import torch

from atfr_lightning.callbacks.gather import log_to_wandb, wandb_runs
from atfr_lightning.callbacks.per_clip import PerClipCallback
from atfr_lightning.records import ClipRecords, frame_bins, frame_strip, strip_caption
from atfr_lightning.records.writing import Strip, strips_wandb_record, write_strip_files


class FrameStripLogger(PerClipCallback):
    """``<split>/frame_bins``: the first ``num_strip_clips`` clips of each validation/test epoch as images.

    Each image shows a clip's frames side by side with one bar per SGS layer under each frame,
    coloured by the bin the frame went to (dark grey: a dropped slice); the caption names the
    clip, its label and prediction and each frame's bin. The SGS layers' inputs of the first
    evaluation batch are kept by forward pre-hooks and their kernels recomputed (eval mode).
    Logged to W&B on rank 0 with the other records of the epoch; without W&B (or with
    ``write_files=True``) written to ``<run>/adaptive_resolution/<split>_epoch<E>_frame_bins_<i>.png``
    with the caption in ``.txt``.

    Args:
        num_strip_clips: clips of the first evaluation batch drawn as frame strips (0: none).
        write_files: write PNG files; ``None`` writes them only when no W&B run is logging.
    """

    prices_clips = False

    def __init__(self, *, num_strip_clips: int = 4, write_files: bool | None = None) -> None:
        super().__init__(write_files=write_files)
        if num_strip_clips < 0:
            raise ValueError(f"num_strip_clips must be >= 0, got {num_strip_clips}")
        self.num_strip_clips = num_strip_clips
        self._strips: list[Strip] = []
        self._capture = False
        self._inputs: dict[str, torch.Tensor] = {}
        self._hooks: list = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if not self._hooks:
            for name, layer in _sgs_layers(pl_module.net).items():
                self._hooks.append(layer.register_forward_pre_hook(self._keep_input(name)))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def _keep_input(self, name: str):
        def hook(module, args):
            # Only the first evaluation batch is kept, and only the clips that get drawn.
            if self._capture:
                self._inputs[name] = args[0][: self.num_strip_clips].detach()

        return hook

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        super().on_validation_epoch_start(trainer, pl_module)
        self._strips = []

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        super().on_test_epoch_start(trainer, pl_module)
        self._strips = []

    def _batch_start(self, trainer, batch_idx: int, dataloader_idx: int) -> None:
        self._capture = (
            self.num_strip_clips > 0 and batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking
        )
        self._inputs = {}

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_start(trainer, batch_idx, dataloader_idx)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_start(trainer, batch_idx, dataloader_idx)

    def _on_batch(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: dict, columns: dict) -> None:
        if self._capture:
            self._capture = False
            self._draw(pl_module, batch, columns)

    @torch.no_grad()
    def _draw(self, pl_module, batch: dict, columns: dict[str, torch.Tensor]) -> None:
        layers = _sgs_layers(pl_module.net)
        if not self._inputs or not layers or pl_module.training:
            return
        video = batch["video"][: self.num_strip_clips].detach().float().cpu().numpy()  # (k, 3, T, H, W)
        per_layer = {}
        for name, features in self._inputs.items():
            layer = layers[name]
            kept = layer.last_active_bins
            try:
                # Eval mode: batch norm uses running statistics, so recomputing the kernel on a
                # slice of the batch gives the same bins as the forward did.
                kernel = layer.kernel_weights(features).float().cpu().numpy()  # (k, B'max, T_feat)
            finally:
                layer.last_active_bins = kept
            per_layer[name] = [frame_bins(kernel[i], num_frames=video.shape[2]) for i in range(len(kernel))]
        for i in range(len(video)):
            bins_i = {name: values[i] for name, values in per_layer.items()}
            caption = strip_caption(
                int(columns["video_index"][i]), int(columns["label"][i]), int(columns["prediction"][i]), bins_i
            )
            self._strips.append((frame_strip(video[i], bins_i), caption))
        self._inputs = {}

    def _finish(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, clips: ClipRecords) -> None:
        strips, self._strips = self._strips, []
        if strips and wandb_runs(trainer):
            log_to_wandb(trainer, strips_wandb_record(split, strips))
        folder = self._output_folder(trainer, "adaptive_resolution")
        if folder is not None:
            write_strip_files(folder, f"{split}_epoch{trainer.current_epoch:03d}", strips)


def _sgs_layers(net) -> dict:
    return dict(net.sgs_layers()) if hasattr(net, "sgs_layers") else {}


__all__ = ["FrameStripLogger"]
