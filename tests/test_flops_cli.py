"""``python -m atfr_lightning.flops``: published figures, per-B' costs, two-pathway cost tables."""

import json
import subprocess
import sys

import pytest
import torch

from atfr_lightning.flops import CostTable, PathwayCostTable, count_gflops, sgs_cost_table
from atfr_lightning.flops.__main__ import main
from atfr_lightning.flops.published import PUBLISHED
from atfr_lightning.models import SGSNetwork, SlowFastSGSNetwork

pytestmark = pytest.mark.usefixtures("one_thread")


def _json_rows(capsys, *argv):
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("name", ["slow_r50", "c2d_r50", "slowfast_r50"])
def test_gflops_match_the_model_zoo(capsys, name):
    # PyTorchVideo model zoo, Kinetics-400, one 256^2 view: 54.52 / 25.89 / 65.71 GFLOPs.
    (row,) = _json_rows(capsys, "--backbone", name, "--json")
    published = PUBLISHED[name]
    assert (row["num_frames"], row["crop_size"]) == (published.num_frames, 256)
    assert row["published_gflops"] == published.gflops and row["published_source"] == "zoo"
    assert row["gflops"] == pytest.approx(published.gflops, rel=0.03)
    assert row["diff_pct"] == pytest.approx(100 * (row["gflops"] / published.gflops - 1))
    assert row["params"] == pytest.approx(published.params_m, abs=0.01)
    assert "aten::max_pool3d" in row["skipped_ops"] and row["sgs"] is False
    # With the batch-norm convention the zoo used for this figure, the match is exact.
    if published.batch_norm != "none":
        (row,) = _json_rows(capsys, "--backbone", name, "--batch-norm", published.batch_norm, "--json")
    assert row["published_batch_norm"] == published.batch_norm
    assert row["gflops"] == pytest.approx(published.gflops, rel=0.001)


def test_text_table_names_units_and_lists_skipped_ops_once(capsys):
    assert main(["--backbone", "x3d_xs", "--backbone", "c2d_r50", "--num-frames", "4", "--crop-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "multiply-adds (GMACs)" in out and "batch norm excluded" in out
    assert out.count("fvcore counted these ops as 0") == 1
    assert "(input differs from the published one)" in out
    assert [line.split()[0] for line in out.splitlines()[2:4]] == ["x3d_xs", "c2d_r50"]


def test_sgs_rows_give_the_cost_at_every_bin_count(capsys):
    rows = _json_rows(capsys, "--backbone", "x3d_s", "--num-frames", "8", "--crop-size", "32", "--sgs", "--json")
    backbone, sgs_rows = rows[0], rows[1:]
    assert backbone["sgs"] is False and [row["active_bins"] for row in sgs_rows] == list(range(1, 9))
    costs = [row["gflops"] for row in sgs_rows]
    assert costs == sorted(costs) and costs[0] < 0.5 * backbone["gflops"]
    assert all(row["ratio"] == pytest.approx(row["gflops"] / backbone["gflops"]) for row in sgs_rows)
    # The same numbers as the table the per-clip GFLOPs logging uses.
    torch.manual_seed(0)
    table = sgs_cost_table(SGSNetwork(backbone="x3d_s", num_classes=400, num_frames=8, crop_size=32),
                           num_frames=8, crop_size=32)
    assert costs == pytest.approx([table.per_bins[b] for b in range(1, 9)])
    assert sgs_rows[0]["params"] > backbone["params"]


def test_insert_after_and_batch_norm_options(capsys):
    small = ["--backbone", "x3d_xs", "--num-frames", "4", "--crop-size", "32"]
    gflops = {bn: _json_rows(capsys, *small, "--batch-norm", bn, "--json")[0]["gflops"] for bn in ("none", "eval", "train")}
    # fvcore: 2 (evaluation) or 5 (training mode) per batch-norm element with an affine transform.
    assert gflops["train"] - gflops["none"] == pytest.approx(2.5 * (gflops["eval"] - gflops["none"]))
    assert gflops["eval"] > gflops["none"]
    res2 = _json_rows(capsys, *small, "--sgs", "--json")[1:]
    res3 = _json_rows(capsys, *small, "--sgs", "--insert-after", "res3", "--json")[1:]
    assert {row["insert_after"] for row in res3} == {"res3"}
    assert res3[0]["gflops"] > res2[0]["gflops"]  # fewer layers run on B' = 1 slice
    with pytest.raises(SystemExit):
        main([*small, "--insert-after", "pool2"])
    assert "--insert-after must be one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--backbone", "x3d_xs", "--num-frames", "0"])
    assert "--num-frames must be >= 1, got 0" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "atfr_lightning.flops", "--backbone", "x3d_xs", "--num-frames", "4",
         "--crop-size", "32", "--json"],
        capture_output=True, text=True, check=True,
    )
    row = json.loads(result.stdout)
    assert {"backbone", "num_frames", "crop_size", "params", "gflops"} <= set(row)


def _slowfast():
    torch.manual_seed(0)
    # num_bins=1: the Slow pathway keeps 1 bin, the Fast one up to alpha = 8; a short table.
    return SlowFastSGSNetwork(backbone="slowfast_r50_4x16", num_classes=5, num_frames=32, crop_size=32, num_bins=1)


def test_two_pathway_cost_is_additive_and_matches_a_traced_clip():
    net = _slowfast()
    table = sgs_cost_table(net, num_frames=32, crop_size=32)
    assert isinstance(table, PathwayCostTable) and table.layers == ("sgs_slow", "sgs_fast")
    assert sorted(table.marginal["sgs_fast"]) == list(range(1, 9)) and list(table.marginal["sgs_slow"]) == [1]
    assert len(table.per_bins) == 8
    # Trace the whole network on real clips (fvcore re-traces per input, so it counts exactly the
    # (B'_slow, B'_fast) that clip got) and compare with the table's lookup.
    net.eval()
    torch.manual_seed(3)
    still = torch.randn(1, 3, 1, 32, 32)
    ramp = torch.linspace(0, 3, 32).view(1, 1, 32, 1, 1)
    clips = [torch.randn(1, 3, 32, 32, 32), still.expand(-1, -1, 32, -1, -1), still + ramp]
    seen = set()
    for clip in clips:
        with torch.no_grad():
            traced, _ = count_gflops(net, (clip,))
            net(clip)
        bins = {name: layer.last_active_bins for name, layer in net.sgs_layers().items()}
        seen.add(int(bins["sgs_fast"]))
        # The table also counts SGS's element-wise work (pooling, distances, kernel) through
        # handles that a whole-network trace does not apply: slightly more, never less.
        assert traced <= float(table.clip_gflops(bins)) <= traced * 1.01
    assert len(seen) >= 2, "the clips (noise, static, ramp) should keep different numbers of Fast bins"
    with pytest.raises(ValueError, match="pass a dict"):
        table.clip_gflops(torch.tensor([1]))
    with pytest.raises(ValueError, match="expected active bins of the SGS layers"):
        table.clip_gflops({"sgs": torch.tensor([1])})


def test_one_layer_table_takes_a_tensor_or_a_one_entry_dict():
    table = CostTable(backbone_gflops=2.0, per_bins={1: 0.5, 2: 1.0})
    assert table.clip_gflops(torch.tensor([2, 1])).tolist() == [1.0, 0.5]
    assert table.clip_gflops({"sgs": torch.tensor([1])}).tolist() == [0.5]
    with pytest.raises(ValueError, match="one SGS layer"):
        table.clip_gflops({"a": torch.tensor([1]), "b": torch.tensor([1])})
