"""Per-clip GFLOPs from SGS bin counts, and the end-of-run summary the quickstart prints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from atfr_lightning.flops import CostTable, cached_cost_table
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork

UNITS = "GFLOPs (fvcore, multiply-adds, one clip)"


class AdaptiveResolutionSummary(L.Callback):
    """Log mean per-clip GFLOPs of each evaluation and print a summary when fit/validate/test ends.

    At the start it counts, with fvcore, the network's cost for one clip at every number of
    active bins B' and the same backbone without SGS. During validation and test each clip's
    GFLOPs is looked up from its B' and averaged (``val/gflops_per_clip``, ``test/...``),
    summed across DDP ranks. The summary is printed and written to ``summary.json`` in the
    run folder.

    Args:
        num_frames: T of the evaluated clips; ``None`` takes the network's ``num_frames``.
        crop_size: H = W of the evaluated clips; ``None`` takes the network's ``crop_size``.
        backbone_label: name shown in the summary; ``None`` takes the network's backbone name.
    """

    def __init__(
        self, *, num_frames: int | None = None, crop_size: int | None = None, backbone_label: str | None = None
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.backbone_label = backbone_label
        self.table: CostTable | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._means: dict[str, tuple[int, float]] = {}
        self.results: dict[str, dict] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        net = pl_module.net
        if self.table is None and isinstance(net, AdaptiveTemporalNetwork):
            self.num_frames = self.num_frames or getattr(net, "num_frames", None)
            self.crop_size = self.crop_size or getattr(net, "crop_size", None)
            if self.num_frames is None or self.crop_size is None:
                raise ValueError(
                    "AdaptiveResolutionSummary needs num_frames and crop_size: pass them, or use a network "
                    "that exposes them (atfr_lightning.models.SGSNetwork does)"
                )
            self.backbone_label = self.backbone_label or getattr(net, "backbone_name", "backbone")
            self.table = cached_cost_table(net, num_frames=self.num_frames, crop_size=self.crop_size)

    def _start(self) -> None:
        self._sums = {"clips": torch.zeros((), dtype=torch.float64), "gflops": torch.zeros((), dtype=torch.float64)}

    def _batch(self, pl_module: L.LightningModule, batch: dict) -> None:
        bins = pl_module.active_bins()
        clips = len(batch["label"])
        if self.table is None:
            return
        if bins:
            # A dict of per-layer bins: one entry for single-SGS nets, one per pathway for SlowFast.
            gflops = self.table.clip_gflops(bins).sum()
        else:
            gflops = torch.tensor(self.table.backbone_gflops * clips, dtype=torch.float64)
        self._sums["clips"] += clips
        self._sums["gflops"] += gflops

    def _end(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> None:
        if self.table is None or trainer.sanity_checking:
            return
        totals = {k: trainer.strategy.reduce(v.to(pl_module.device), reduce_op="sum") for k, v in self._sums.items()}
        clips = float(totals["clips"])
        if clips == 0:
            return
        self._means[split] = (int(clips), float(totals["gflops"]) / clips)
        pl_module.log(f"{split}/gflops_per_clip", self._means[split][1], rank_zero_only=True)

    def _collect(self, trainer: L.Trainer, split: str) -> None:
        # Runs in on_*_end, after Lightning has reduced the epoch's metrics into callback_metrics.
        if split not in self._means or trainer.sanity_checking:
            return
        clips, mean_gflops = self._means[split]
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(f"{split}/")}
        self.results[split] = {
            "clips": clips,
            "top1": metrics.get(f"{split}/top1"),
            "mean_bins": {k.rsplit("/", 1)[-1]: v for k, v in metrics.items() if "/mean_bins/" in k},
            "max_bins": self.num_frames,
            "gflops_per_clip": mean_gflops,
            "backbone_gflops": self.table.backbone_gflops,
            "gflops_units": UNITS,
        }

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start()

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(pl_module, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._batch(pl_module, batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._end(trainer, pl_module, "test")

    def on_validation_end(self, trainer, pl_module) -> None:
        self._collect(trainer, "val")
        if trainer.state.fn == "validate":
            self._report(trainer, "val")

    def on_test_end(self, trainer, pl_module) -> None:
        self._collect(trainer, "test")
        self._report(trainer, "test")

    def on_fit_end(self, trainer, pl_module) -> None:
        self._report(trainer, "val")

    def _report(self, trainer: L.Trainer, split: str) -> None:
        # trainer.log_dir broadcasts across DDP ranks: read it on every rank, write on rank 0.
        run_dir = Path(trainer.log_dir or trainer.default_root_dir)
        self._write_report(trainer, split, run_dir)

    @rank_zero_only
    def _write_report(self, trainer: L.Trainer, split: str, run_dir: Path) -> None:
        result = self.results.get(split)
        if result is None:
            return
        text = format_summary(result, backbone_label=self.backbone_label, split=split)
        print(text, flush=True)
        os.makedirs(run_dir, exist_ok=True)
        (run_dir / "summary.json").write_text(json.dumps({split: result}, indent=2))
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                flat = {f"summary/{split}/{k}": v for k, v in result.items() if not isinstance(v, dict)}
                logger.experiment.summary.update(flat)


def format_summary(result: dict, *, backbone_label: str, split: str) -> str:
    """The human-readable summary block, units named, values in one aligned column."""
    top1 = result["top1"]
    rows: list[tuple[str, str]] = [
        ("top-1 accuracy (per clip)", "n/a" if top1 is None else f"{top1 * 100:.1f} %"),
    ]
    for layer, bins in result["mean_bins"].items():
        rows.append((f"mean active bins per clip, {layer}", f"{bins:.2f} of {result['max_bins']} temporal slices"))
    gflops: list[tuple[str, str]]
    if not result["mean_bins"]:  # the network has no SGS layer: one fixed cost
        gflops = [(f"{backbone_label} without SGS", f"{result['backbone_gflops']:.4f}")]
    else:
        ratio = result["gflops_per_clip"] / result["backbone_gflops"]
        gflops = [
            (f"{backbone_label} + SGS, mean over clips", f"{result['gflops_per_clip']:.4f}"),
            (f"{backbone_label} without SGS", f"{result['backbone_gflops']:.4f}"),
            ("ratio SGS / without SGS", f"{ratio:.3f}"),
        ]
    width = max(len(label) for label, _ in rows + [("  " + g, "") for g, _ in gflops])
    lines = ["", f"=== Adaptive temporal resolution: {split} split, {result['clips']} clips (views) ==="]
    lines += [f"{label:<{width}} : {value}" for label, value in rows]
    lines.append(f"{UNITS}:")
    lines += [f"{'  ' + label:<{width}} : {value}" for label, value in gflops]
    return "\n".join(lines + [""])
