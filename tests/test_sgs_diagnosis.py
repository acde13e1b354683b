"""The SGS diagnosis script: clip groups from hand-made metadata, and a tiny end-to-end run."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("sgs_diagnosis", REPO / "benchmarks" / "sgs_diagnosis.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_appear_groups_follow_the_metadata():
    meta = [
        {"num_distractors": 0, "background_cut": -1, "event_frames": 1},
        {"num_distractors": 2, "background_cut": -1, "event_frames": 6},
        {"num_distractors": 0, "background_cut": 7, "event_frames": 0},
    ]
    groups = _load().appear_groups(meta)
    assert groups["all"].tolist() == [True, True, True]
    assert groups["no distractor, no background cut"].tolist() == [True, False, False]
    assert groups["distractors"].tolist() == [False, True, False]
    assert groups["background cut"].tolist() == [False, False, True]
    assert groups["pattern shown 1-2 frames"].tolist() == [True, False, False]
    assert groups["pattern shown >= 5 frames"].tolist() == [False, True, False]
    assert groups["nothing appears"].tolist() == [False, False, True]


@pytest.mark.slow
def test_tiny_run_freezes_the_embedding_and_writes_every_row(tmp_path, monkeypatch):
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    diagnosis = _load()
    bench = diagnosis._benchmark()
    trained: dict[str, dict[str, torch.Tensor]] = {}
    original_train = bench.train

    def spy(net, *args, **kwargs):  # SGS weights before and after stage 2, per row
        before = {k: v.clone() for k, v in net.state_dict().items() if k.startswith("sgs.embed")}
        result = original_train(net, *args, **kwargs)
        trained[str(len(trained))] = {k: (before[k], net.state_dict()[k]) for k in before}
        return result

    monkeypatch.setattr(diagnosis, "_benchmark", lambda: bench)
    monkeypatch.setattr(bench, "train", spy)
    rows = ["average_4", "sgs_default", "sgs_default+frozen"]
    diagnosis.main(["--setting", "tiny", "--seeds", "0", "--threads", "2", "--rows", *rows, "--out", str(tmp_path)])
    written = list(csv.DictReader((tmp_path / "diagnosis.csv").open()))
    assert [r["row"] for r in written] == rows
    for row in written:
        assert 0 <= float(row["zero_shot"]) <= 1 and 0 <= float(row["all"]) <= 1
    learned, frozen = trained["2"], trained["3"]  # "0" is stage 1, "1" the average row
    assert any(not torch.equal(a, b) for a, b in learned.values())
    assert all(torch.equal(a, b) for a, b in frozen.values())
    assert "val top-1 at insertion" in (tmp_path / "diagnosis.md").read_text()
