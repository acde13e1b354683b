"""FlopsLogger: static backbone GFLOPs, per-clip GFLOPs from bins, W&B records and files."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from adaptive_runs import NUM_VAL

from atfr_lightning.callbacks import AdaptiveResolutionSummary, FlopsLogger, FrameStripLogger
from atfr_lightning.callbacks.per_clip import per_clip_gflops
from atfr_lightning.flops import CostTable
from atfr_lightning.inspection.wandb_offline import find_offline_run, read_history
from atfr_lightning.records import read_csv


def _last(history, key):
    rows = [row for row in history if key in row]
    assert rows, f"{key} was logged"
    assert all("trainer/global_step" in row for row in rows)
    return rows[-1]


def test_offline_run_holds_gflops(wandb_offline_run):
    cli, run_dir = wandb_offline_run
    offline = find_offline_run(run_dir)
    history = read_history(offline)
    backbone = _last(history, "flops/backbone_gflops")["flops/backbone_gflops"]
    entry = _last(history, "flops/gflops_per_bins")["flops/gflops_per_bins"]
    table = json.loads((offline / "files" / entry["path"]).read_text())
    cost_of = {int(b): g for b, g in table["data"]}
    assert 0 < min(cost_of.values()) and max(cost_of.values()) <= backbone * 1.05
    # A clip keeping more bins costs more.
    assert [cost_of[b] for b in sorted(cost_of)] == sorted(cost_of.values())

    clips_entry = _last(history, "val/clips")["val/clips"]
    clips = json.loads((offline / "files" / clips_entry["path"]).read_text())
    columns = clips["columns"]
    bins = [row[columns.index("bins/sgs")] for row in clips["data"]]
    expected = np.array([cost_of[b] for b in bins])

    scalars = _last(history, "val/gflops/mean")
    assert scalars["val/gflops/mean"] == pytest.approx(expected.mean(), rel=1e-6)
    # One name for the mean: the summary prints the same figure, no second key holds it.
    assert not [row for row in history if "val/gflops_per_clip" in row]
    (summary,) = run_dir.rglob("summary.json")
    assert json.loads(summary.read_text())["val"]["gflops_per_clip"] == pytest.approx(expected.mean(), rel=1e-6)
    assert scalars["val/gflops/ratio_to_backbone"] == pytest.approx(expected.mean() / backbone, rel=1e-6)
    hist = _last(history, "val/gflops/per_clip")["val/gflops/per_clip"]
    assert hist["_type"] == "histogram" and sum(hist["values"]) == NUM_VAL
    summary_path = offline / "files" / "wandb-summary.json"
    if summary_path.exists():  # written at finish by the W&B core
        assert json.loads(summary_path.read_text())["flops/units"] == "GFLOPs (fvcore, multiply-adds, one clip)"


def test_wandb_off_writes_gflops_files(wandb_off_run):
    cli, run_dir = wandb_off_run
    folder = run_dir / "flops"
    costs = read_csv(folder / "cost_table.csv")
    cost_of = dict(zip((int(b) for b in costs["active_bins"]), (float(g) for g in costs["gflops"])))
    per_clip = read_csv(folder / "val_epoch000_gflops.csv")
    bins = read_csv(run_dir / "adaptive_resolution" / "val_epoch000_clips.csv")
    by_index = dict(zip(bins["video_index"], (int(b) for b in bins["bins/sgs"])))
    for index, gflops in zip(per_clip["video_index"], per_clip["gflops"]):
        assert float(gflops) == pytest.approx(cost_of[by_index[index]])
    assert "GFLOPs (fvcore, multiply-adds, one clip)" in (folder / "backbone_gflops.txt").read_text()
    assert (folder / "val_epoch000_gflops.png").stat().st_size > 0
    mean = np.mean([float(g) for g in per_clip["gflops"]])
    assert float(cli.trainer.callback_metrics["val/gflops/mean"]) == pytest.approx(mean, rel=1e-6)


def test_per_clip_gflops_lookup_and_defensive_cases():
    table = CostTable(backbone_gflops=10.0, per_bins={1: 2.0, 2: 3.0, 3: 4.0})
    bins = {"sgs": torch.tensor([3, 1, 2])}
    assert per_clip_gflops(table, bins, num_clips=3).tolist() == [4.0, 2.0, 3.0]
    # No SGS layer: every clip costs the backbone.
    assert per_clip_gflops(table, {}, num_clips=2).tolist() == [10.0, 10.0]
    assert per_clip_gflops(None, bins, num_clips=3) is None
    # Two layers but a one-layer table: warn and log nothing rather than a wrong number.
    with pytest.warns(UserWarning, match="cannot price"):
        assert per_clip_gflops(table, {"slow": torch.tensor([1]), "fast": torch.tensor([2])}, num_clips=1) is None


def test_the_first_pricing_callback_logs_the_mean():
    summary, flops, strips = AdaptiveResolutionSummary(), FlopsLogger(), FrameStripLogger()
    summary.table = flops.table = CostTable(backbone_gflops=1.0, per_bins={1: 0.5})
    trainer = SimpleNamespace(callbacks=[strips, flops, summary])
    assert [c._logs_mean_gflops(trainer) for c in (strips, flops, summary)] == [False, True, False]
    summary.table = flops.table = None  # a network without SGS support: nobody prices, nobody logs
    assert not any(c._logs_mean_gflops(trainer) for c in (strips, flops, summary))


def test_summary_block_names_what_it_costs():
    from atfr_lightning.callbacks.summary import format_summary

    base = {"clips": 10, "top1": 0.5, "max_bins": 16, "backbone_gflops": 0.02, "gflops_per_clip": 0.01}
    with_sgs = format_summary({**base, "mean_bins": {"sgs": 3.5}}, backbone_label="X3D-S", split="val")
    assert "mean active bins per clip, sgs" in with_sgs and "3.50 of 16 temporal slices" in with_sgs
    assert "ratio SGS / without SGS" in with_sgs and ": 0.500" in with_sgs
    plain = format_summary({**base, "mean_bins": {}}, backbone_label="X3D-S", split="val")
    assert "X3D-S without SGS" in plain and "ratio" not in plain
    averaged = format_summary({**base, "mean_bins": {}, "fixed_temporal_average": 4}, backbone_label="X3D-S", split="val")
    assert "X3D-S with a fixed 4:1 temporal average" in averaged and "without SGS" not in averaged
    # One aligned column of values.
    assert len({line.index(" : ") for line in with_sgs.splitlines() if " : " in line}) == 1
