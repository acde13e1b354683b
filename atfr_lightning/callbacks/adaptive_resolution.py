"""Log how many temporal bins each clip keeps in every SGS layer (W&B, or CSV/PNG files)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import torch

from atfr_lightning.callbacks.flops import cost_table_for, per_clip_gflops
from atfr_lightning.callbacks.gather import gather_clip_rows, log_to_wandb, run_folder, wandb_runs
from atfr_lightning.callbacks.records import (
    frame_bins,
    frame_strip,
    integer_histogram,
    mean_by_class,
    pearson,
    plot_bins_histograms,
    save_png,
    write_csv,
)


class AdaptiveResolutionLogger(L.Callback):
    """Per-clip active bins B' of every SGS layer (each SlowFast pathway apart), for W&B or files.

    Reads ``pl_module.active_bins()`` ({layer: (N,) int64}) after each validation/test batch and
    the logits (N, K) the step returns. At the end of each validation and test epoch, with the
    clips of all DDP ranks gathered and logged once on rank 0 (``trainer/global_step`` in the
    record):

    * ``<split>/bins_hist/<layer>``: W&B histogram, one bar per integer B' = 1..T;
    * ``<split>/clips``: W&B table, one row per clip: video_index, view_index, label, prediction, correct,
      bins/<layer>, gflops (fvcore, multiply-adds) and, on the synthetic set, ``need``;
    * ``<split>/mean_bins_per_class``: W&B table (class, class name, mean B' per layer);
    * ``<split>/frame_bins``: images of the first ``num_strip_clips`` clips, frames side by
      side with a bar under each frame coloured by the bin it went to (one bar per layer);
    * ``<split>/bins_need_corr/<layer>``: Pearson correlation of B' and the synthetic clip's
      recorded ``need`` (side-car ``*_meta.jsonl``), a ``self.log`` scalar.

    Mean B' per layer is already logged by the LightningModule as ``<split>/mean_bins/<layer>``.
    In training, after the first step and then every ``train_every_n_steps`` steps, the batch's
    B' (all ranks) go to ``train/bins_hist/<layer>`` (a sampled subset). Without W&B (or with ``write_files=True``)
    the same records go to ``<run>/adaptive_resolution/<split>_epoch<E>_*`` as CSV and PNG.

    Args:
        num_frames: T of the evaluated clips (the histogram's last bar); ``None`` takes the
            network's ``num_frames``.
        crop_size: H = W for the GFLOPs column; ``None`` takes the network's ``crop_size``.
        num_strip_clips: clips of the first evaluation batch drawn as frame strips (0: none).
        train_every_n_steps: training histogram period in optimizer steps (0: never).
        write_files: write CSV/PNG files; ``None`` writes them only when no W&B run is logging.
    """

    def __init__(
        self,
        *,
        num_frames: int | None = None,
        crop_size: int | None = None,
        num_strip_clips: int = 4,
        train_every_n_steps: int = 50,
        write_files: bool | None = None,
    ) -> None:
        super().__init__()
        if num_strip_clips < 0 or train_every_n_steps < 0:
            raise ValueError(
                f"num_strip_clips and train_every_n_steps must be >= 0, got {num_strip_clips}, {train_every_n_steps}"
            )
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.num_strip_clips = num_strip_clips
        self.train_every_n_steps = train_every_n_steps
        self.write_files = write_files
        self.table = None
        self._rows: dict[str, list[torch.Tensor]] = {}
        self._strips: list[tuple[np.ndarray, str]] = []
        self._capture = False
        self._inputs: dict[str, torch.Tensor] = {}
        self._hooks: list = []

    # ---- setup ---------------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        net = pl_module.net
        self.num_frames = self.num_frames or getattr(net, "num_frames", None)
        if self.table is None:
            self.table = cost_table_for(net, num_frames=self.num_frames, crop_size=self.crop_size, trainer=trainer)
        if not self._hooks:
            for name, layer in _sgs_layers(net).items():
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

    def _files_on(self, trainer: L.Trainer) -> bool:
        if trainer.global_rank != 0:
            return False
        return self.write_files if self.write_files is not None else not wandb_runs(trainer)

    # ---- evaluation ------------------------------------------------------------------------------
    def _start(self) -> None:
        self._rows, self._strips = {}, []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def _batch_start(self, trainer, batch_idx: int, dataloader_idx: int) -> None:
        self._capture = (
            self.num_strip_clips > 0 and batch_idx == 0 and dataloader_idx == 0 and not trainer.sanity_checking
        )
        self._inputs = {}

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_start(trainer, batch_idx, dataloader_idx)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch_start(trainer, batch_idx, dataloader_idx)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(trainer, pl_module, outputs, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(trainer, pl_module, outputs, batch)

    def _batch(self, trainer, pl_module, outputs, batch: dict) -> None:
        if trainer.sanity_checking:
            return
        bins = pl_module.active_bins()
        labels = batch["label"].detach().cpu().long()
        num_clips = len(labels)
        columns = {
            "video_index": torch.as_tensor(batch.get("video_index", torch.full((num_clips,), -1))).cpu().long(),
            "view_index": torch.as_tensor(batch.get("view_index", torch.zeros(num_clips))).cpu().long(),
            "label": labels,
            # validation_step/test_step return logits (N, K); anything else leaves prediction -1.
            "prediction": outputs.detach().argmax(dim=1).cpu().long()
            if isinstance(outputs, torch.Tensor) and outputs.dim() == 2
            else torch.full((num_clips,), -1),
        }
        columns.update({f"bins/{name}": value.detach().cpu().long() for name, value in bins.items()})
        gflops = per_clip_gflops(self.table, bins, num_clips=num_clips)
        if gflops is not None:
            columns["gflops"] = gflops.cpu()
        for name, value in columns.items():
            self._rows.setdefault(name, []).append(value)
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
            caption = (
                f"video {int(columns['video_index'][i])}, label {int(columns['label'][i])}, "
                f"prediction {int(columns['prediction'][i])}; bin of each frame: "
                + "; ".join(f"{name} {values.tolist()}" for name, values in bins_i.items())
            )
            self._strips.append((frame_strip(video[i], bins_i), caption))
        self._inputs = {}

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "test")

    def _end(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        if trainer.sanity_checking or not self._rows:
            return
        local = {name: torch.cat(parts) for name, parts in self._rows.items()}
        rows = {name: value.numpy() for name, value in gather_clip_rows(trainer, local).items()}
        layers = [name.split("/", 1)[1] for name in rows if name.startswith("bins/")]
        need = _synthetic_need(trainer, split, rows["video_index"])
        if need is not None:
            rows["need"] = need
            for layer in layers:
                corr = pearson(rows[f"bins/{layer}"], need)
                if not np.isnan(corr):
                    pl_module.log(f"{split}/bins_need_corr/{layer}", corr, sync_dist=False)
        rows["correct"] = (rows["prediction"] == rows["label"]).astype(np.int64)
        num_classes = int(getattr(pl_module, "num_classes", rows["label"].max() + 1))
        class_names = _class_names(trainer, num_classes)
        max_bins = int(max([self.num_frames or 1] + [rows[f"bins/{layer}"].max() for layer in layers]))
        per_class = {
            layer: mean_by_class(rows[f"bins/{layer}"], rows["label"], num_classes=num_classes) for layer in layers
        }
        order = ["video_index", "view_index", "label", "prediction", "correct", *[f"bins/{layer}" for layer in layers]]
        order += [name for name in ("gflops", "need") if name in rows]
        if wandb_runs(trainer):
            import wandb

            record = {
                f"{split}/clips": wandb.Table(columns=order, data=[list(r) for r in zip(*(rows[c].tolist() for c in order))]),
                f"{split}/mean_bins_per_class": wandb.Table(
                    columns=["class", "class_name", *layers],
                    data=[
                        [c, class_names[c], *[_nan_to_none(per_class[layer][c]) for layer in layers]]
                        for c in range(num_classes)
                    ],
                ),
            }
            for layer in layers:
                counts, edges = integer_histogram(rows[f"bins/{layer}"], max_value=max_bins)
                record[f"{split}/bins_hist/{layer}"] = wandb.Histogram(np_histogram=(counts.tolist(), edges.tolist()))
            if self._strips:
                record[f"{split}/frame_bins"] = [wandb.Image(image, caption=caption) for image, caption in self._strips]
            log_to_wandb(trainer, record)
        # trainer.log_dir is a collective under DDP (a broadcast): every rank must ask for it.
        folder = Path(run_folder(trainer)) / "adaptive_resolution"
        if self._files_on(trainer):
            stem = f"{split}_epoch{trainer.current_epoch:03d}"
            write_csv(folder / f"{stem}_clips.csv", {name: rows[name].tolist() for name in order})
            write_csv(
                folder / f"{stem}_mean_bins_per_class.csv",
                {
                    "class": list(range(num_classes)),
                    "class_name": class_names,
                    **{layer: per_class[layer].tolist() for layer in layers},
                },
            )
            plot_bins_histograms(
                folder / f"{stem}_bins_hist.png",
                {layer: rows[f"bins/{layer}"] for layer in layers},
                max_bins=max_bins,
                title=f"{split}, epoch {trainer.current_epoch}: active bins per clip",
            )
            for i, (image, caption) in enumerate(self._strips):
                save_png(folder / f"{stem}_frame_bins_{i}.png", image)
                (folder / f"{stem}_frame_bins_{i}.txt").write_text(caption + "\n")
        self._strips = []

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
            import wandb

            record = {}
            for layer, values in rows.items():
                counts, edges = integer_histogram(values.numpy(), max_value=int(max(self.num_frames or 1, values.max())))
                record[f"train/bins_hist/{layer}"] = wandb.Histogram(np_histogram=(counts.tolist(), edges.tolist()))
            log_to_wandb(trainer, record)


def _sgs_layers(net) -> dict:
    return dict(net.sgs_layers()) if hasattr(net, "sgs_layers") else {}


def _nan_to_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


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
