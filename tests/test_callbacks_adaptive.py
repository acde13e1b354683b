"""AdaptiveResolutionLogger: W&B records read back from the offline run, files without W&B, helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from adaptive_runs import NUM_FRAMES, NUM_VAL

from atfr_lightning.callbacks.gather import gather_clip_rows
from atfr_lightning.inspection.wandb_offline import find_offline_run, read_history
from atfr_lightning.records import (
    frame_bins,
    frame_strip,
    integer_histogram,
    mean_by_class,
    pearson,
    read_csv,
)


def _history(run_dir: Path) -> tuple[Path, list[dict]]:
    offline = find_offline_run(run_dir)
    return offline, read_history(offline)


def _first(history: list[dict], key: str) -> dict:
    rows = [row for row in history if key in row]
    assert rows, f"{key} was logged"
    assert all("trainer/global_step" in row for row in rows), "every record carries the global step"
    return rows[-1]


def _table(offline: Path, entry: dict) -> dict[str, list]:
    assert entry["_type"] == "table-file"
    content = json.loads((offline / "files" / entry["path"]).read_text())
    return {name: [row[i] for row in content["data"]] for i, name in enumerate(content["columns"])}


def test_offline_run_holds_histogram_table_scalars_images(wandb_offline_run, adaptive_data_root):
    cli, run_dir = wandb_offline_run
    offline, history = _history(run_dir)
    clips = _table(offline, _first(history, "val/clips")["val/clips"])

    # One row per validation clip, each clip once.
    assert sorted(clips["video_index"]) == list(range(NUM_VAL))
    bins = np.array(clips["bins/sgs"])
    assert ((1 <= bins) & (bins <= NUM_FRAMES)).all()
    assert clips["correct"] == [int(p == y) for p, y in zip(clips["prediction"], clips["label"])]

    # Labels and need agree with the side-car metadata (row = video_index).
    meta_path = next(Path(adaptive_data_root).rglob("val_meta.jsonl"))
    meta = [json.loads(line) for line in meta_path.read_text().splitlines()]
    assert clips["label"] == [meta[i]["label"] for i in clips["video_index"]]
    assert clips["need"] == [meta[i]["need"] for i in clips["video_index"]]

    # Histogram: one bar per integer 1..T, counts equal to the table's bins.
    hist = _first(history, "val/bins_hist/sgs")["val/bins_hist/sgs"]
    assert hist["_type"] == "histogram"
    assert hist["bins"] == [k + 0.5 for k in range(NUM_FRAMES + 1)]
    assert hist["values"] == [int((bins == k).sum()) for k in range(1, NUM_FRAMES + 1)]

    # Mean bins per class against a plain loop over the clips.
    per_class = _table(offline, _first(history, "val/mean_bins_per_class")["val/mean_bins_per_class"])
    for label, mean in zip(per_class["class"], per_class["sgs"]):
        members = [b for b, lab in zip(bins, clips["label"]) if lab == label]
        assert mean == (pytest.approx(sum(members) / len(members)) if members else None)

    # Per-clip GFLOPs: the cost table's entry at the clip's B'.
    costs = _table(offline, _first(history, "flops/gflops_per_bins")["flops/gflops_per_bins"])
    cost_of = dict(zip((int(b) for b in costs["active_bins"]), costs["gflops"]))
    assert clips["gflops"] == pytest.approx([cost_of[b] for b in bins])

    # Scalars (self.log): mean bins, correlation with need.
    scalars = _first(history, "val/bins_need_corr/sgs")
    assert scalars["val/mean_bins/sgs"] == pytest.approx(bins.mean(), rel=1e-5)
    assert scalars["val/bins_need_corr/sgs"] == pytest.approx(np.corrcoef(bins, clips["need"])[0, 1], rel=1e-4)
    assert float(cli.trainer.callback_metrics["val/bins_need_corr/sgs"]) == pytest.approx(scalars["val/bins_need_corr/sgs"])

    # Frame strips: 4 images on disk, frames of 32 px plus one colour bar.
    images = _first(history, "val/frame_bins")["val/frame_bins"]
    assert images["count"] == 4 and len(images["captions"]) == 4
    assert images["height"] == 32 + 6 and images["width"] == NUM_FRAMES * 32
    assert all((offline / "files" / name).is_file() for name in images["filenames"])
    # Each frame's bin (caption) covers exactly the clip's active bins: B' distinct ids 0..B'-1.
    bins_of = dict(zip(clips["video_index"], bins))
    for caption in images["captions"]:
        index = int(caption.split(",")[0].split()[1])
        frame_ids = json.loads(caption.split("sgs ")[1])
        assert sorted(set(frame_ids)) == list(range(bins_of[index]))

    # Training: a sampled subset after the first step.
    assert _first(history, "train/bins_hist/sgs")["train/bins_hist/sgs"]["_type"] == "histogram"


def test_wandb_off_writes_csv_and_png(wandb_off_run):
    _, run_dir = wandb_off_run
    assert not list(run_dir.rglob("offline-run-*")), "no W&B run without a logger"
    folder = run_dir / "adaptive_resolution"
    clips = read_csv(folder / "val_epoch000_clips.csv")
    assert sorted(int(i) for i in clips["video_index"]) == list(range(NUM_VAL))
    assert {"label", "prediction", "correct", "bins/sgs", "gflops", "need"} <= set(clips)
    per_class = read_csv(folder / "val_epoch000_mean_bins_per_class.csv")
    assert len(per_class["class"]) == 5 and per_class["class_name"][0] == "horizontal stripes"
    assert (folder / "val_epoch000_bins_hist.png").stat().st_size > 0
    assert len(list(folder.glob("val_epoch000_frame_bins_*.png"))) == 4


def test_integer_histogram_one_bar_per_count():
    counts, edges = integer_histogram([1, 3, 3, 8], max_value=8)
    assert counts.tolist() == [1, 0, 2, 0, 0, 0, 0, 1]
    assert edges.tolist() == [0.5 + k for k in range(9)]


def test_mean_by_class_and_pearson():
    values, labels = np.array([2, 4, 6, 1]), np.array([0, 0, 2, 2])
    means = mean_by_class(values, labels, num_classes=4)
    assert means[0] == 3 and np.isnan(means[1]) and means[2] == 3.5 and np.isnan(means[3])
    assert pearson(np.arange(5), 2 * np.arange(5) + 1) == pytest.approx(1.0)
    assert np.isnan(pearson(np.ones(4), np.arange(4)))


def test_frame_bins_and_strip():
    # 4 slices: slices 0, 2 -> bin 0; slice 1 -> bin 1; slice 3 dropped (all zero).
    kernel = np.array([[1.0, 0.0, 0.9, 0.0], [0.0, 1.0, 0.0, 0.0]])
    assert frame_bins(kernel, num_frames=4).tolist() == [0, 1, 0, -1]
    # 8 input frames over 4 slices (temporal stride 2 before SGS).
    assert frame_bins(kernel, num_frames=8).tolist() == [0, 0, 1, 1, 0, 0, -1, -1]
    strip = frame_strip(np.random.rand(3, 4, 5, 6), {"slow": np.array([0, 1, 0, -1]), "fast": np.zeros(4, int)}, bar=2)
    assert strip.shape == (5 + 2 * 2, 4 * 6, 3) and strip.dtype == np.uint8
    assert (strip[5, 0] == strip[5, 12]).all() and not (strip[5, 0] == strip[5, 6]).all()


class _TwoRanks:
    """Strategy stand-in for rank 0 of two: the other rank holds ``other`` (a column of clips)."""

    root_device = torch.device("cpu")

    def __init__(self, other: torch.Tensor):
        self.other, self.calls = other, 0

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1:  # the clip counts
            return torch.stack([tensor, torch.tensor([len(self.other)])])
        padded = torch.zeros_like(tensor)
        padded[: len(self.other)] = self.other
        return torch.stack([tensor, padded])


def test_gather_pads_uneven_ranks_and_drops_repeated_clips():
    # Rank 0 holds clips 0, 1, 2; rank 1 holds clips 7, 2 (2 repeated by the sampler's padding).
    trainer = SimpleNamespace(world_size=2, strategy=_TwoRanks(torch.tensor([7, 2])))
    rows = gather_clip_rows(trainer, {"video_index": torch.tensor([0, 1, 2])})
    assert rows["video_index"].tolist() == [0, 1, 2, 7]


def test_gather_keeps_clips_without_a_video_index():
    trainer = SimpleNamespace(world_size=2, strategy=_TwoRanks(torch.tensor([-1, -1])))
    rows = gather_clip_rows(trainer, {"video_index": torch.tensor([-1, 3])})
    assert rows["video_index"].tolist() == [-1, 3, -1, -1]


def test_records_import_neither_lightning_nor_the_models():
    # The notebook and atfr_lightning.inspection read CSV files through these modules.
    code = (
        "import sys, atfr_lightning.records, atfr_lightning.records.writing, atfr_lightning.inspection.runs; "
        "heavy = ('lightning', 'wandb', 'fvcore', 'torch', 'matplotlib', 'atfr_lightning.models', 'atfr_lightning.callbacks'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
