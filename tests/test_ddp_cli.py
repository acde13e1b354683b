"""DDP on CPU end to end through the CLI (2 processes, gloo): fit, validation and a multi-view test with SGS
and every callback on; the 2-process test of a checkpoint gives the 1-process figures, each (video, view) once."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from atfr_lightning.records import read_csv

CONFIG = str(Path(__file__).resolve().parents[1] / "experiments" / "synthetic" / "x3d_sgs.yaml")
NUM_VAL, CLIPS, CROPS = 7, 2, 2  # an odd number of videos: an even split would hide padding


def _args(tmp_path: Path, out: str, *extra: str) -> list[str]:
    return [
        "--config", CONFIG,
        f"--data.init_args.root={tmp_path / 'data'}", "--data.init_args.num_train=8",
        f"--data.init_args.num_val={NUM_VAL}", "--data.init_args.num_frames=8",
        "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
        f"--data.init_args.num_test_clips={CLIPS}", f"--data.init_args.num_test_crops={CROPS}",
        "--model.sgs_start_epoch=0", "--trainer.enable_progress_bar=false",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.init_args.save_dir={tmp_path / out}",
        f"--trainer.default_root_dir={tmp_path / out}",
        "--trainer.callbacks+=atfr_lightning.callbacks.MultiViewTestAccuracy",
        *extra,
    ]


# "ddp" relaunches the same command for rank 1 (the way a cluster job runs it); the networks hold
# lambdas, so "ddp_spawn" (which pickles the model) is not an option.
DDP = ["--trainer.devices=2", "--trainer.strategy=ddp"]


def _atfr(*args: str) -> str:
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "atfr_lightning", *args], capture_output=True, text=True,
                            timeout=900, env=env, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout + result.stderr


def _logged(folder: Path) -> dict[str, float]:
    """The last value of every metric in the CSVLogger's metrics.csv."""
    (path,) = folder.rglob("metrics.csv")
    values: dict[str, float] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            values.update({k: float(v) for k, v in row.items() if v not in ("", None)})
    return values


def _records(folder: Path) -> dict[tuple[int, int], dict]:
    (path,) = folder.rglob("test_epoch*_clips.csv")
    table = read_csv(path)
    keys = list(zip(map(int, table["video_index"]), map(int, table["view_index"])))
    assert len(keys) == len(set(keys)), "a (video, view) was recorded twice"
    return {key: {name: table[name][row] for name in table} for row, key in enumerate(keys)}


@pytest.mark.slow
def test_ddp_fit_validate_and_multiview_test_match_one_process(tmp_path):
    output = _atfr("fit", *_args(tmp_path, "fit", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2"), *DDP)
    assert "Starting with 2 processes" in output and "distributed_backend=gloo" in output
    assert "val/top1" in _logged(tmp_path / "fit")
    (checkpoint,) = (tmp_path / "fit").rglob("last.ckpt")

    figures = {}
    for name, extra in (("one", []), ("two", DDP)):
        output = _atfr("test", *_args(tmp_path, name, f"--ckpt_path={checkpoint}"), *extra)
        assert ("Starting with 2 processes" in output) == (name == "two")
        figures[name] = _logged(tmp_path / name)
        figures[name]["records"] = _records(tmp_path / name)
        (summary,) = (tmp_path / name).rglob("summary.json")
        figures[name]["summary"] = json.loads(summary.read_text())["test"]

    one, two = figures["one"], figures["two"]
    expected = {(video, view) for video in range(NUM_VAL) for view in range(CLIPS * CROPS)}
    assert set(one["records"]) == set(two["records"]) == expected
    for key, row in one["records"].items():
        assert two["records"][key] == row, key  # prediction, bins and GFLOPs of every (video, view)
    for metric in ("test/top1", "test/top1_multiview", "test/top1_per_view", "test/num_videos_multiview",
                   "test/loss", "test/gflops/mean", "test/mean_bins/sgs"):
        assert two[metric] == pytest.approx(one[metric], abs=1e-6), metric
    assert two["summary"]["clips"] == one["summary"]["clips"] == NUM_VAL * CLIPS * CROPS
    assert two["summary"]["gflops_per_clip"] == pytest.approx(one["summary"]["gflops_per_clip"], rel=1e-9)
