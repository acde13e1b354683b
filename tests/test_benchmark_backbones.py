"""The benchmark scripts' `--json` output: the fields the README and docs tables are read from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_json_lists_one_object_per_backbone_with_the_ratios():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "backbones.py"), "--backbone", "x3d_xs", "--crop-size", "32",
         "--batch-size", "3", "--repeats", "2", "--num-frames", "8", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300,
    )
    records = json.loads(result.stdout)
    assert [r["backbone"] for r in records] == ["x3d_xs"]
    record = records[0]
    for key in ("gflops_ratio", "time_ratio", "expected_time_ratio", "pre_sgs_time_share", "uniform_time_ratio"):
        assert 0 < record[key] < 2, (key, record[key])
    # exact evaluation on X3D (depthwise temporal convolutions): masked, or packed for one length
    assert record["resolved_execution"] in ("masked", "packed") and record["batch_norm"] == "folded"
    assert record["gflops_ratio"] == record["gflops_sgs"] / record["gflops_backbone"]
    assert record["layout"] == "channels_last"  # as atfr predict runs X3D on a CPU


def test_post_sgs_scaling_json_has_one_row_per_variant_and_fraction():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "post_sgs_scaling.py"), "--backbone", "x3d_xs", "--crop-size", "32",
         "--batch-size", "2", "--num-frames", "8", "--repeats", "1", "--fraction", "0.5", "--threads", "1", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300,
    )
    rows = json.loads(result.stdout)
    assert [(r["variant"], r["fraction"]) for r in rows] == [
        (v, f) for v in ("eager", "channels_last", "torchscript") for f in (1.0, 0.5)]
    for r in rows:
        assert r["ms"] > 0 and r["speed"] > 0
        assert r["excess"] == pytest.approx(r["time_ratio"] - r["gflops_ratio"])
        if r["fraction"] == 1.0:
            assert r["time_ratio"] == 1.0 and r["gflops_ratio"] == 1.0
        else:
            # 4 of 8 slices: half the GFLOPs of the layers after res2, less the head's fixed part
            assert r["slices"] == "4" and 0.5 <= r["gflops_ratio"] < 0.6


def test_execution_choice_json_has_one_row_per_pattern_with_the_ratio():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "execution_choice.py"), "--backbone", "x3d_xs", "--crop-size", "32",
         "--repeats", "1", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300,
    )
    rows = json.loads(result.stdout)
    assert len(rows) == 6 and {r["backbone"] for r in rows} == {"x3d_xs"}
    paddings = [r["padding"] for r in rows]
    assert paddings == sorted(paddings) and 0 < paddings[0] < 0.05 and 0.35 < paddings[-1] < 0.4
    for r in rows:
        assert r["packed_over_masked"] > 0 and r["ms_masked"] > 0 and r["ms_packed"] > 0


def test_layout_choice_json_has_one_row_per_network_and_batch_size_with_the_ratio():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "layout_choice.py"), "--backbone", "x3d_xs", "--crop-size", "32",
         "--num-frames", "8", "--batch-size", "1", "--batch-size", "2", "--repeats", "1", "--threads", "1", "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=300,
    )
    rows = json.loads(result.stdout)
    assert [(r["sgs"], r["batch_size"]) for r in rows] == [(True, 1), (True, 2), (False, 1), (False, 2)]
    for r in rows:
        assert r["depthwise"] and r["ms_contiguous"] > 0 and r["ms_channels_last"] > 0
        assert r["channels_last_over_contiguous"] > 0
