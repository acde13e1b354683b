"""The accuracy-vs-GFLOPs benchmark end to end on a tiny setting: files, units, and its figures."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from atfr_lightning.flops.counting import count_gflops

REPO = Path(__file__).resolve().parents[1]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("accuracy_vs_gflops", REPO / "benchmarks" / "accuracy_vs_gflops.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_run_writes_consistent_tables_and_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    bench = _load_benchmark()
    out = tmp_path / "out"
    # Every SGS row the CPU run did not exercise (time order, from scratch) runs here at least.
    variants = ["backbone", "average_4", "input_quarter", "sgs_default", "sgs_replicate", "sgs_time_order",
                "sgs_scratch"]
    bench.main(["--setting", "tiny", "--seeds", "0", "1", "--variants", *variants, "--out", str(out), "--threads", "2"])
    runs = list(csv.DictReader((out / "runs.csv").open()))
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["variant"], int(r["seed"])) for r in runs] == [(v, s) for s in (0, 1) for v in variants]
    assert [s["variant"] for s in summary] == variants
    for row in summary:
        values = [float(r["top1"]) for r in runs if r["variant"] == row["variant"]]
        assert math.isclose(float(row["top1_mean"]), sum(values) / 2, abs_tol=1e-9)
        assert math.isclose(float(row["top1_std"]), torch.tensor(values, dtype=torch.float64).std().item(), abs_tol=1e-9)
    by_name = {s["variant"]: s for s in summary}
    assert float(by_name["backbone"]["ratio"]) == 1.0
    # Fixed rows' GFLOPs equal an independent fvcore count of the plain network at that input.
    setting = bench.SETTINGS["tiny"]
    plain = bench.build_net(bench.default_variants(4)["input_quarter"], seed=0, setting=setting, num_classes=5)
    expected, _ = count_gflops(plain.eval(), (torch.zeros(1, 3, 4, 32, 32),))
    assert math.isclose(float(by_name["input_quarter"]["gflops_mean"]), expected, rel_tol=1e-6)
    # SGS rows: B' between 1 and B = 4, cost below the backbone's; replicate padding gives static clips 1 bin.
    for name in ("sgs_default", "sgs_replicate"):
        assert 1 <= float(by_name[name]["mean_bins"]) <= 4
        assert float(by_name[name]["ratio"]) < 1
    markdown = (out / "summary.md").read_text()
    assert "GFLOPs per clip (fvcore, multiply-adds)" in markdown and "mean ± std" in markdown
    assert (out / "accuracy_vs_gflops.png").stat().st_size > 10_000


def test_continuing_schedule_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    bench = _load_benchmark()
    out = tmp_path / "out"
    bench.main(["--setting", "tiny", "--seeds", "0", "--variants", "backbone", "sgs_default", "--schedule", "continuing",
                "--lr", "0.002", "--out", str(out), "--threads", "2"])
    assert "one 2-epoch schedule at lr 0.002" in (out / "summary.md").read_text()
    assert len(list(csv.DictReader((out / "runs.csv").open()))) == 2


def test_stage1_cache_is_reused_and_gives_the_same_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    bench = _load_benchmark()
    common = ["--setting", "tiny", "--seeds", "0", "--variants", "backbone", "sgs_default", "--schedule", "continuing",
              "--threads", "2", "--stage1-cache", str(tmp_path / "stage1")]
    bench.main([*common, "--out", str(tmp_path / "first")])
    saved = list((tmp_path / "stage1").glob("stage1_appear_seed0_*.pt"))
    assert len(saved) == 1
    before = saved[0].stat().st_mtime_ns
    bench.main([*common, "--out", str(tmp_path / "second")])
    assert saved[0].stat().st_mtime_ns == before  # read, not rewritten
    first, second = ([{k: r[k] for k in ("variant", "top1", "gflops", "mean_bins")}
                      for r in csv.DictReader((tmp_path / out / "runs.csv").open())] for out in ("first", "second"))
    assert first == second
    # Anything that changes stage 1 names another file.
    setting = bench.SETTINGS["tiny"]
    key = dict(task="appear", setting=setting, seed=0, schedule="continuing", device="cpu", threads=2)
    path = bench.stage1_cache_path(tmp_path, **key)
    assert bench.stage1_cache_path(tmp_path, **{**key, "seed": 1}) != path
    assert bench.stage1_cache_path(tmp_path, **{**key, "setting": bench.replace(setting, lr=0.5)}) != path
    assert bench.stage1_cache_path(None, **key) is None


def test_continuing_schedule_factor_picks_up_where_stage_one_stopped():
    """Stage 2 of the continuing schedule reads the same warm-up + cosine at an offset."""
    from atfr_lightning.lightning.optim import warmup_cosine

    bench = _load_benchmark()
    setting = bench.SETTINGS["tiny"]
    net = bench.build_net(bench.default_variants(4)["backbone"], seed=0, setting=setting, num_classes=5)
    clips = torch.zeros(16, 3, 16, 32, 32, dtype=torch.uint8)
    labels = torch.zeros(16, dtype=torch.long)
    seen = []
    original = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.AdamW.step = record
    try:
        bench.train(net, clips, labels, epochs=1, lr=0.01, setting=setting, seed=0, stage=2, device="cpu",
                    input_frames=None, schedule_epochs=3, start_epoch=2)
    finally:
        torch.optim.AdamW.step = original
    factor = warmup_cosine(total_steps=6, warmup_steps=1, warmup_start_factor=0.1)  # 2 steps/epoch at batch 8
    assert seen == pytest.approx([0.01 * factor(4), 0.01 * factor(5)])


def test_unknown_variant_is_refused(tmp_path):
    bench = _load_benchmark()
    with pytest.raises(SystemExit):
        bench.main(["--setting", "tiny", "--variants", "nonsense", "--out", str(tmp_path)])


def test_continuing_schedule_carries_adamw_moments_over_and_new_parameters_start_afresh():
    bench = _load_benchmark()
    setting = bench.SETTINGS["tiny"]
    variants = bench.default_variants(2)
    clips = torch.randint(0, 255, (8, 3, 16, 32, 32), dtype=torch.uint8)
    labels = torch.arange(8) % 5
    backbone = bench.build_net(variants["backbone"], seed=0, setting=setting, num_classes=5)
    kwargs = dict(setting=setting, seed=0, device=torch.device("cpu"), input_frames=None)
    moments = bench.train(backbone, clips, labels, epochs=1, lr=0.01, stage=1, **kwargs)
    assert moments and all(int(s["step"]) == 1 for s in moments.values())  # one batch of 8
    adaptive = bench.build_net(variants["sgs_default"], seed=0, setting=setting, num_classes=5)
    adaptive.load_state_dict(backbone.state_dict(), strict=False)
    carried = bench.train(adaptive, clips, labels, epochs=0, lr=0.01, stage=2, moments=moments, **kwargs)
    assert set(carried) == set(moments) and not [n for n in carried if n.startswith("sgs.")]
    for name, state in moments.items():
        torch.testing.assert_close(carried[name]["exp_avg_sq"], state["exp_avg_sq"])


def test_order_sensitivity_script_runs_orders_recipes_and_bn_checks(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "order_sensitivity.py"
    spec = importlib.util.spec_from_file_location("order_sensitivity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for order in ("fixed", "per_epoch"):
        runs = module.main(["--setting", "tiny", "--order", order, "--epochs", "1", "--threads", "1"])
        assert len(runs) == 1 and len(runs[0]) == 1 and 0.0 <= runs[0][0] <= 1.0
    out = tmp_path / "runs.csv"
    runs = module.main(["--setting", "tiny", "--orders", "0", "1", "--epochs", "2", "--schedule-epochs", "3",
                        "--batch-size", "4", "--lr", "0.003", "--optimizer", "sgd", "--bn-checks", "2",
                        "--threads", "1", "--out", str(out)])
    rows = list(csv.DictReader(out.open()))
    assert len(runs) == 2 and [(r["order_index"], r["epoch"]) for r in rows] == [("0", "0"), ("0", "1"), ("1", "0"),
                                                                                ("1", "1")]
    assert all("sgd lr 0.003" in r["recipe"] and "batch 4, 3-epoch" in r["recipe"] for r in rows)
    assert all(0.0 <= float(r["val_top1_precise_bn"]) <= 1.0 for r in rows)
    # Two orders give two different runs from the same weights; the stage picks the permutation.
    assert module.order_stage("per_epoch", 0, 3) == 13 and module.order_stage("fixed", 1, 3) == 51


def test_plateau_end_is_the_first_step_past_chance():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "order_sensitivity.py"
    spec = importlib.util.spec_from_file_location("order_sensitivity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = [(1.6, 0.2)] * 30 + [(0.5, 1.0)] * 10
    # The window of 20 passes 0.3 once 3 perfect steps are in it: 17 * 0.2 + 3 = 6.4 > 6.
    assert module.plateau_end(log) == 33
    assert module.plateau_end([(1.6, 0.2)] * 40) is None


def test_derived_rows_other_bin_counts_and_stages(tmp_path):
    bench = _load_benchmark()
    variants = bench.default_variants(4)
    two = bench.derived(variants, "sgs_overlap_mean_replicate_time:b2")
    assert two.net == {**variants["sgs_overlap_mean_replicate_time"].net, "num_bins": 2}
    assert two.label.startswith("SGS B=2,")
    # Only SGS rows take a bin count, and only a positive integer one.
    assert bench.derived(variants, "average_4:b2") is None
    assert bench.derived(variants, "sgs_default:bx") is None
    assert bench.derived(variants, "sgs_default:b0") is None
    # Another stage, alone or with another bin count; only for reductions.
    stem = bench.derived(variants, "average_4@stem")
    assert stem.net == {"temporal_average": 4, "insert_after": "stem"} and stem.label.endswith("after stem")
    both = bench.derived(variants, "sgs_default:b2@stem")
    assert both.net == {**variants["sgs_default"].net, "num_bins": 2, "insert_after": "stem"}
    assert bench.derived(variants, "backbone@stem") is None
    assert bench.derived(variants, "average_4@") is None
    with pytest.raises(SystemExit):
        bench.main(["--setting", "tiny", "--variants", "average_4:b2", "--out", str(tmp_path)])
