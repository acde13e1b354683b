"""Backbone + SGS: exactness without SGS, batch invariance, pooling, FLOPs."""

import pytest
import torch

from atfr_lightning._pytorchvideo import import_pytorchvideo
from atfr_lightning.flops import count_gflops, sgs_cost_table
from atfr_lightning.models import SGSNetwork, TemporalGlobalAvgPool3d
from atfr_lightning.models.adaptive import PACK_MIN_WASTE, padding_waste

SMALL = dict(num_classes=5, num_frames=8, crop_size=32, backbone_kwargs={"width_factor": 1.0, "depth_factor": 1.0})


def _clips(n=6):
    torch.manual_seed(1)
    x = torch.randn(n, 3, 8, 32, 32)
    x[0] = x[0, :, :1]  # a static clip next to busy ones
    x[1, :, :4] = x[1, :, :1]  # half static
    x[2] = x[2, :, :1] + torch.linspace(0, 3, 8).view(1, 8, 1, 1)  # a steady brightness ramp
    return x


def test_sgs_off_equals_pytorchvideo_builder():
    torch.manual_seed(0)
    net = SGSNetwork(backbone="x3d_s", sgs=False, **SMALL).eval()
    x3d = import_pytorchvideo("pytorchvideo.models.x3d")
    ref = x3d.create_x3d(
        input_clip_length=8, input_crop_size=32, model_num_class=5, width_factor=1.0, depth_factor=1.0,
        dropout_rate=0.5, head_activation=None,
    ).eval()
    ref.load_state_dict(net.state_dict())  # identical key names: blocks.<i>.*
    x = _clips()
    torch.testing.assert_close(net(x), ref(x))


def test_only_sgs_parameters_are_new():
    with_sgs = set(SGSNetwork(backbone="x3d_s", **SMALL).state_dict())
    without = set(SGSNetwork(backbone="x3d_s", sgs=False, **SMALL).state_dict())
    assert without <= with_sgs
    assert all(k.startswith("sgs.") for k in with_sgs - without)


def test_eval_logits_do_not_depend_on_the_batch():
    net = SGSNetwork(backbone="x3d_s", **SMALL)
    x = _clips()
    net.train()
    for _ in range(3):  # move BN statistics away from their initial values
        net(x)
    net.eval()
    batched = net(x)
    assert len(set(net.sgs.last_active_bins.tolist())) > 1, "the test needs clips with different B'"
    alone = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)


def _trained_net(**kwargs):
    net = SGSNetwork(backbone="x3d_s", **SMALL, **kwargs)
    net.train()
    for _ in range(3):  # move BN statistics away from their initial values
        net(_clips())
    return net


def test_masked_and_bucketed_equal_grouped_in_evaluation():
    net = _trained_net().eval()
    x = _clips()
    net.execution = "grouped"
    grouped = net(x)
    for execution in ("masked", "bucketed"):
        net.execution = execution
        torch.testing.assert_close(net(x), grouped, atol=1e-5, rtol=0)
    # The channels-last layout (faster 3D convolutions on CPU) computes the same logits.
    net.execution = "exact"
    net.use_channels_last()
    torch.testing.assert_close(net(x), grouped, atol=1e-4, rtol=0)


def test_bucket_keys_merge_close_lengths_and_bound_the_padding():
    from atfr_lightning.models.adaptive import bucket_keys

    assert bucket_keys([5, 6, 6, 7, 5, 7, 5, 7]) == [0] * 8  # padding 8 of 48 valid slices: one pass
    keys = bucket_keys([1, 3, 7, 8, 1, 3, 8, 8], waste=0.5)
    assert keys[0] == keys[4] and keys[2] == keys[3] == keys[6] == keys[7] and keys[0] != keys[2]
    for lengths in ([1, 2, 3, 4, 16, 16], [4] * 5, [1, 16]):
        keys = bucket_keys(lengths, waste=0.25)
        for key in set(keys):
            members = [n for n, k in zip(lengths, keys) if k == key]
            padding = sum(max(members) - n for n in members)
            assert padding <= 0.25 * sum(members) or len(set(members)) == 1


def test_masked_training_ignores_what_the_padding_holds():
    # Under masked execution, garbage in the padded slices must not change anything:
    # not the outputs, not the batch-norm statistics.
    net = _trained_net(execution="masked", dropout=0.0).train()  # dropout would differ per call
    features, active = net.forward_features(_clips())
    assert len(set(active.tolist())) > 1
    garbage = features.clone()
    for n, b in enumerate(active.tolist()):
        garbage[n, :, b:] = torch.randn_like(garbage[n, :, b:]) * 100
    state = {k: v.clone() for k, v in net.state_dict().items()}
    clean_out = net.forward_post(features, active)
    clean_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    torch.testing.assert_close(net.forward_post(garbage, active), clean_out)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, clean_state[key], msg=key)


def test_exact_execution_resolves_by_mode():
    net = SGSNetwork(backbone="x3d_s", **SMALL)
    assert net.execution == "exact"
    assert net.train().resolved_execution() == "masked"
    assert net.eval().resolved_execution() == "packed"
    net.execution = "packed"
    assert net.train().resolved_execution() == "masked"  # packed runs in evaluation only


def test_padding_waste_by_hand():
    assert padding_waste(torch.tensor([4, 4, 4])) == 0.0
    assert padding_waste(torch.tensor([1, 3])) == pytest.approx(1 - 4 / 6)  # 2 of 6 padded slices
    assert padding_waste(torch.tensor([5, 6, 6, 7, 5, 7, 5, 7])) == pytest.approx(1 - 48 / 56)


def test_exact_evaluation_packs_only_where_padding_would_be_large_and_convolutions_dense():
    from atfr_lightning.models import build_network

    low, high = torch.tensor([6, 7, 7, 7]), torch.tensor([1, 3, 7, 8])
    assert padding_waste(low) <= PACK_MIN_WASTE < padding_waste(high)
    dense = build_network(backbone="slow_r50", num_classes=5, num_frames=8, crop_size=32).eval()
    assert dense.execution_for([low]) == "masked"
    assert dense.execution_for([high]) == "packed"
    assert dense.execution_for([torch.tensor([5, 5])]) == "packed"  # one length: run as they are, no mask
    assert dense.execution_for([low, high]) == "packed"  # two SGS layers: the larger padding decides
    dense.execution = "packed"  # asked for explicitly: always packed
    assert dense.execution_for([low]) == "packed"
    dense.execution = "exact"
    assert dense.train().execution_for([high]) == "masked"  # training is masked whatever the padding
    # X3D's temporal convolutions are depthwise: packing never pays, whatever the padding.
    depthwise = SGSNetwork(backbone="x3d_s", **SMALL).eval()
    assert depthwise.execution_for([high]) == "masked"
    assert depthwise.execution_for([torch.tensor([5, 5])]) == "packed"
    # SlowFast: the Slow pathway's padding decides.
    slowfast = build_network(backbone="slowfast_r50", num_classes=5, num_frames=16, crop_size=32).eval()
    assert slowfast.execution_for([torch.tensor([2, 2, 2, 2]), high]) == "masked"
    assert slowfast.execution_for([high, torch.tensor([4, 4, 4, 4])]) == "packed"


def test_exact_evaluation_records_the_scheme_each_batch_ran_and_equals_grouped():
    net = _trained_net(execution="grouped").eval()
    x = _clips()
    with torch.no_grad():
        reference = net(x)
        bins = net.sgs.last_active_bins
        net.execution = "exact"
        torch.testing.assert_close(net(x), reference, atol=1e-5, rtol=1e-5)
    assert net.last_execution == net.execution_for([bins])


def test_padded_execution_is_the_reference_behaviour():
    """The released code: the zero padding flows through every later layer, so a clip's logits depend on its batch."""
    net = _trained_net(execution="padded").eval()
    x = _clips()
    with torch.no_grad():
        batched = net(x)
        features, bins = net.forward_features(x)
        torch.testing.assert_close(batched, net.post(features), atol=0, rtol=0)
        assert len(set(bins.tolist())) > 1, "the test needs clips with different B'"
        alone = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
    assert not torch.allclose(alone, batched, atol=1e-4), "padding should change the shorter clips' logits"


def test_training_step_backward():
    net = SGSNetwork(backbone="x3d_s", **SMALL).train()
    loss = torch.nn.functional.cross_entropy(net(_clips()), torch.arange(6) % 5)
    loss.backward()
    assert net.sgs.embed[0].weight.grad.abs().sum() > 0


def test_temporal_pool_equals_fixed_pool_at_full_length():
    x = torch.randn(2, 4, 6, 5, 5)
    fixed = torch.nn.AvgPool3d((6, 3, 3), stride=1)
    adaptive = TemporalGlobalAvgPool3d.from_avg_pool(fixed)
    torch.testing.assert_close(adaptive(x), fixed(x))
    assert adaptive(x[:, :, :2]).shape == (2, 4, 1, 3, 3)


def test_x3d_s_gflops_match_the_x3d_paper():
    # X3D paper, Table 3: X3D-S at 13 x 160^2 costs 1.96 GFLOPs (multiply-adds, conv + linear).
    net = SGSNetwork(backbone="x3d_s", num_classes=400, sgs=False).eval()
    gflops, skipped = count_gflops(net, (torch.zeros(1, 3, 13, 160, 160),))
    assert gflops == pytest.approx(1.96, rel=0.03)
    assert "aten::_convolution" not in skipped


def test_cost_table_is_monotone_and_bounded_by_backbone():
    net = SGSNetwork(backbone="x3d_s", **SMALL)
    table = sgs_cost_table(net, num_frames=8, crop_size=32)
    costs = [table.per_bins[b] for b in sorted(table.per_bins)]
    assert costs == sorted(costs) and len(costs) == 8
    # At B' = T the SGS network costs the backbone plus the (small) SGS layer.
    assert table.per_bins[8] == pytest.approx(table.backbone_gflops + table.sgs_gflops[8], rel=1e-9)
    assert table.sgs_gflops[8] < 0.05 * table.backbone_gflops
    assert table.clip_gflops(torch.tensor([1, 8])).tolist() == [table.per_bins[1], table.per_bins[8]]


def test_bad_network_arguments():
    with pytest.raises(ValueError, match="unknown backbone 'x3d_q'"):
        SGSNetwork(backbone="x3d_q", num_classes=5)
    with pytest.raises(ValueError, match="insert_after must be one of"):
        SGSNetwork(backbone="x3d_s", insert_after="res9", **SMALL)


def test_cost_table_is_cached_per_network_not_shared_across_networks():
    from atfr_lightning.flops import cached_cost_table

    small = SGSNetwork(backbone="x3d_s", **SMALL)
    first = cached_cost_table(small, num_frames=8, crop_size=32)
    assert cached_cost_table(small, num_frames=8, crop_size=32) is first
    other = SGSNetwork(backbone="x3d_s", **{**SMALL, "num_frames": 4})
    assert cached_cost_table(other, num_frames=4, crop_size=32) is not first
    assert max(cached_cost_table(other, num_frames=4, crop_size=32).per_bins) == 4
