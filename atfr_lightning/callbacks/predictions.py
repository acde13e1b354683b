"""``atfr predict`` output: one JSON line per video with its top-5 classes, bins and GFLOPs."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from atfr_lightning.flops import cached_cost_table
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork


class PredictionWriter(BasePredictionWriter):
    """Write ``<default_root_dir>/predictions.jsonl`` at the end of ``predict``: one object per video.

    ``{"video": path relative to the data root, "top5": [{"class": name, "probability": p}, ...]
    (softmax averaged over the video's views), "bins": {layer: [B' per view]}, "gflops": mean
    GFLOPs per clip (fvcore, multiply-adds) over its views, "gflops_per_view": [...], "views": n}``.
    A video that could not be read gets ``{"video": ..., "error": ...}`` instead. Class names come
    from the checkpoint (saved by :class:`VideoClassifier`), else the datamodule, else ``"<k>"``.
    Under DDP every rank's videos are gathered and rank 0 writes the file, in video order.

    Args:
        filename: the file name inside the trainer's ``default_root_dir``.
        top_k: classes listed per video.
    """

    def __init__(self, *, filename: str = "predictions.jsonl", top_k: int = 5) -> None:
        super().__init__(write_interval="batch")
        self.filename = filename
        self.top_k = top_k
        self.path: Path | None = None
        self._videos: dict[int, dict] = {}
        self._table = None

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._videos = {}
        net = getattr(pl_module, "net", None)
        if self._table is None and isinstance(net, AdaptiveTemporalNetwork):
            self._table = cached_cost_table(net, num_frames=net.num_frames, crop_size=net.crop_size)

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        probabilities = prediction["logits"].float().softmax(dim=1).cpu()
        bins = {k.split("/", 1)[1]: v.cpu() for k, v in prediction.items() if k.startswith("active_bins/")}
        if self._table is None:
            gflops = torch.full((len(probabilities),), float("nan"))
        elif bins:
            gflops = self._table.clip_gflops(bins).cpu()
        else:
            gflops = torch.full((len(probabilities),), self._table.backbone_gflops)
        errors = batch.get("error") or [""] * len(probabilities)
        for row, video in enumerate(batch["video_index"].tolist()):
            entry = self._videos.setdefault(video, {"probabilities": 0.0, "views": 0, "bins": {}, "gflops": [], "error": ""})
            if errors[row]:
                entry["error"] = errors[row]
                continue
            entry["probabilities"] = entry["probabilities"] + probabilities[row]
            entry["views"] += 1
            entry["gflops"].append(float(gflops[row]))
            for layer, values in bins.items():
                entry["bins"].setdefault(layer, []).append(int(values[row]))

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        videos = self._videos
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            parts: list = [None] * trainer.world_size
            torch.distributed.all_gather_object(parts, videos)
            videos = {}
            for part in parts:
                for index, entry in part.items():
                    videos.setdefault(index, entry)  # a video's views all come from one rank's shard
        if not trainer.is_global_zero:
            return
        records = _records(trainer)
        names = _class_names(trainer, pl_module)
        self.path = Path(trainer.default_root_dir) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w") as handle:
            for index in sorted(videos):
                handle.write(json.dumps(self._line(index, videos[index], records, names)) + "\n")

    def _line(self, index: int, entry: dict, records, names: list[str]) -> dict:
        video = records[index].name if records is not None else str(index)
        if entry["error"] or entry["views"] == 0:
            return {"video": video, "error": entry["error"] or "no view could be read"}
        mean = entry["probabilities"] / entry["views"]
        top = torch.topk(mean, min(self.top_k, len(mean)))
        return {
            "video": video,
            "top5" if self.top_k == 5 else f"top{self.top_k}": [
                {"class": names[k] if k < len(names) else str(k), "probability": round(float(p), 6)}
                for p, k in zip(top.values.tolist(), top.indices.tolist())
            ],
            "bins": entry["bins"],
            "gflops": sum(entry["gflops"]) / len(entry["gflops"]),
            "gflops_per_view": entry["gflops"],
            "views": entry["views"],
        }


def _records(trainer: L.Trainer):
    datamodule = trainer.datamodule
    for name in ("predict_dataset", "val_dataset"):
        dataset = getattr(datamodule, name, None)
        if dataset is not None and hasattr(dataset, "records"):
            return dataset.records
    return None


def _class_names(trainer: L.Trainer, pl_module: L.LightningModule) -> list[str]:
    names = getattr(pl_module, "class_names", None)
    if names:
        return list(names)
    try:
        return list(getattr(trainer.datamodule, "class_names", None) or [])
    except Exception:  # noqa: BLE001 - a datamodule whose annotations are absent: numbered classes
        return []
