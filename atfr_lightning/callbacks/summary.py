"""The end-of-run summary the quickstart prints: accuracy, mean bins and mean per-clip GFLOPs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from atfr_lightning.callbacks.per_clip import PerClipCallback
from atfr_lightning.records import GFLOPS_UNITS, ClipRecords

UNITS = GFLOPS_UNITS


class AdaptiveResolutionSummary(PerClipCallback):
    """Print a summary of each evaluation when fit/validate/test ends, and write ``summary.json``.

    At the start it counts, with fvcore, the network's cost for one clip at every number of
    active bins B' and the same backbone without SGS. During validation and test each clip's
    GFLOPs is looked up from its B'; the clips of all DDP ranks are gathered (each
    (video, view) once) and averaged. That mean is ``val/gflops/mean`` (``test/...``, logged
    by :class:`PerClipCallback`) and ``gflops_per_clip`` in the summary, which is printed and
    written to ``summary.json`` in the run folder.

    Args:
        num_frames: T of the evaluated clips; ``None`` takes the network's ``num_frames``.
        crop_size: H = W of the evaluated clips; ``None`` takes the network's ``crop_size``.
        backbone_label: name shown in the summary; ``None`` takes the network's backbone name.
    """

    def __init__(
        self, *, num_frames: int | None = None, crop_size: int | None = None, backbone_label: str | None = None
    ) -> None:
        super().__init__(num_frames=num_frames, crop_size=crop_size)
        self.backbone_label = backbone_label
        self._means: dict[str, tuple[int, float]] = {}
        self.results: dict[str, dict] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if self.table is not None:
            self.backbone_label = self.backbone_label or getattr(pl_module.net, "backbone_name", "backbone")
        # A fixed k:1 average after a stage (the non-adaptive control) is named in the summary.
        self._fixed_average = int(getattr(pl_module.net, "temporal_average", 1) or 1)

    def _finish(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str, clips: ClipRecords) -> None:
        mean = clips.mean_gflops()
        if self.table is None or mean is None:
            return
        self._means[split] = (len(clips), mean)

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
            "fixed_temporal_average": getattr(self, "_fixed_average", 1),
        }

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
    average = result.get("fixed_temporal_average", 1)
    if not result["mean_bins"] and average > 1:  # the fixed-reduction control: one fixed cost
        gflops = [(f"{backbone_label} with a fixed {average}:1 temporal average", f"{result['backbone_gflops']:.4f}")]
    elif not result["mean_bins"]:  # the network has no SGS layer: one fixed cost
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
