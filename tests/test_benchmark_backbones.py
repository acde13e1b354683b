"""``benchmarks/backbones.py --json``: the fields the README's speed table is read from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
