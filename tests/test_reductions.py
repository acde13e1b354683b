"""Replicate temporal padding before SGS, and the fixed k:1 temporal average control."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atfr_lightning.flops import cached_cost_table, count_gflops, sgs_cost_table
from atfr_lightning.models import SGSNetwork, SlowFastSGSNetwork
from atfr_lightning.models.temporal_average import FixedTemporalAverage
from atfr_lightning.models.temporal_padding import use_replicate_temporal_padding

SMALL = dict(num_classes=5, num_frames=16, crop_size=32, backbone_kwargs={"width_factor": 1.0, "depth_factor": 1.0})


pytestmark = pytest.mark.usefixtures("one_thread")


def _net(**kwargs) -> SGSNetwork:
    torch.manual_seed(0)
    return SGSNetwork(backbone="x3d_s", **{**SMALL, **kwargs})


def _static_clips(n: int = 2, frames: int = 16) -> torch.Tensor:
    """Clips whose frames are all the same image."""
    torch.manual_seed(1)
    return torch.randn(n, 3, 1, 32, 32).repeat(1, 1, frames, 1, 1)


def _busy_clips(n: int = 3, frames: int = 16) -> torch.Tensor:
    torch.manual_seed(2)
    return torch.randn(n, 3, frames, 32, 32)


def _temporal_spread(features: torch.Tensor) -> torch.Tensor:
    """Largest difference of each slice from the middle slice, per t: (N, C, T, H, W) -> (T,)."""
    middle = features[:, :, features.shape[2] // 2 : features.shape[2] // 2 + 1]
    return (features - middle).abs().amax(dim=(0, 1, 3, 4))


# ------------------------------------------------------------------------ replicate padding
@torch.no_grad()
def test_replicate_padding_keeps_a_static_clip_identical_over_time():
    x = _static_clips()
    replicate = _net(temporal_padding="replicate").eval().pre(x)
    for t in range(replicate.shape[2]):
        torch.testing.assert_close(replicate[:, :, t], replicate[:, :, 0], msg=f"slice {t}")
    # Zero padding: the middle slices agree, the edge slices (which read padding) do not.
    spread = _temporal_spread(_net(temporal_padding="zeros").eval().pre(x))
    assert spread[0] > 1e-2 and spread[-1] > 1e-2
    assert spread[4:-4].max() < 1e-5


@torch.no_grad()
def test_replicate_padding_keeps_a_static_clip_identical_over_time_in_i3d():
    # I3D pads T in its stem (kernel 5) and in res2's conv_a (kernel 3), not only depthwise convs.
    torch.manual_seed(0)
    net = SGSNetwork(backbone="i3d_r50", num_classes=5, num_frames=8, crop_size=32, temporal_padding="replicate")
    features = net.eval().pre(_static_clips(frames=8))
    torch.testing.assert_close(features, features[:, :, :1].expand_as(features))


@torch.no_grad()
def test_each_patched_conv_equals_replicate_pad_then_conv_with_spatial_zero_padding():
    zeros, replicate = _net(temporal_padding="zeros"), _net(temporal_padding="replicate")
    original = dict(zeros.named_modules())
    checked = 0
    for name, conv in replicate.named_modules():
        before_sgs = name.startswith(("blocks.0.", "blocks.1."))  # stem and res2
        if not isinstance(conv, nn.Conv3d) or not before_sgs or original[name].padding[0] == 0:
            continue
        pad_t, pad_h, pad_w = original[name].padding
        torch.manual_seed(checked)
        x = torch.randn(2, conv.in_channels, 6, 9, 9)
        # Replicate by hand: the first and last slices repeated pad_t times each.
        padded = torch.cat([x[:, :, :1]] * pad_t + [x] + [x[:, :, -1:]] * pad_t, dim=2)
        expected = F.conv3d(
            padded, conv.weight, conv.bias, conv.stride, (0, pad_h, pad_w), conv.dilation, conv.groups
        )
        torch.testing.assert_close(conv(x), expected, msg=name)
        checked += 1
    # The stem's temporal conv (kernel 5) and res2's depthwise conv_b (kernel 3).
    assert checked == 2


def test_only_convs_before_sgs_are_patched_and_patching_twice_changes_nothing():
    net = _net(temporal_padding="replicate", insert_after="res2")
    patched = {name for name, m in net.named_modules() if hasattr(m, "temporal_replicate_padding")}
    assert patched == {"blocks.0.conv.conv_xy", "blocks.1.res_blocks.0.branch2.conv_b"}
    # res3..res5 still zero-pad T; patching the whole network reaches them, and only them.
    after_sgs = [m for m in net.modules() if isinstance(m, nn.Conv3d) and m.padding[0] > 0]
    assert len(after_sgs) > 0 and use_replicate_temporal_padding(net) == len(after_sgs)
    assert use_replicate_temporal_padding(net) == 0


def test_replicate_padding_keeps_state_dict_keys_and_a_static_clip_gets_one_bin():
    zeros, replicate = _net(temporal_padding="zeros"), _net(temporal_padding="replicate")
    assert list(replicate.state_dict()) == list(zeros.state_dict())
    replicate.load_state_dict(zeros.state_dict())  # strict: a checkpoint of one loads into the other
    x = _static_clips()
    with torch.no_grad():
        zeros.eval()(x)
        replicate.eval()(x)
    assert replicate.sgs.last_active_bins.tolist() == [1, 1]
    # With zero padding the edge slices are outliers, and even a static clip keeps several bins.
    assert min(zeros.sgs.last_active_bins.tolist()) > 1


def test_replicate_network_copies_and_trains():
    net = _net(temporal_padding="replicate")
    x = _busy_clips()
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(copy.deepcopy(net)(x), net(x))  # the hook survives a copy (cost tables copy)
    out = net.train()(x)
    out.sum().backward()
    assert torch.isfinite(out).all()


@torch.no_grad()
def test_slowfast_replicate_padding_covers_both_pathways_before_sgs():
    torch.manual_seed(0)
    net = SlowFastSGSNetwork(
        backbone="slowfast_r50", num_classes=5, num_frames=16, crop_size=32, temporal_padding="replicate"
    ).eval()
    for features in net.pre(_static_clips(frames=16)):
        torch.testing.assert_close(features, features[:, :, :1].expand_as(features))
    # Stage k's lateral runs after SGS (on B' slices): it keeps zero padding.
    assert not hasattr(net.blocks[net.insert_after].multipathway_fusion.conv_fast_to_slow, "temporal_replicate_padding")


def test_bad_temporal_padding_is_named():
    with pytest.raises(ValueError, match=r"temporal_padding must be one of \('zeros', 'replicate'\), got 'reflect'"):
        _net(temporal_padding="reflect")
    with pytest.raises(ValueError, match="got 'circular'"):
        SlowFastSGSNetwork(backbone="slowfast_r50", num_classes=5, num_frames=16, crop_size=32, temporal_padding="circular")


# ----------------------------------------------------------------- fixed temporal average
@pytest.mark.parametrize("stride", [2, 4])
@torch.no_grad()
def test_fixed_average_equals_average_then_the_plain_backbone(stride):
    averaged = _net(sgs=False, temporal_average=stride).eval()
    plain = _net(sgs=False).eval()
    plain.load_state_dict(averaged.state_dict())  # strict: the average adds no parameters
    x = _busy_clips()
    features = plain.pre(x)  # the stage's ReLU is inside: features >= 0
    assert features.min() >= 0
    n, c, t, h, w = features.shape
    # (N, C, T, H, W) -> (N, C, T/k, k, H, W) -> mean over each run of k slices.
    pooled = features.view(n, c, t // stride, stride, h, w).mean(dim=3)
    torch.testing.assert_close(averaged(x), plain.post(pooled))
    reduced, bins = averaged.forward_features(x)
    assert reduced.shape[2] == t // stride and bins is None


def test_fixed_average_trains_under_every_execution():
    for execution in ("exact", "masked", "grouped", "padded"):
        net = _net(sgs=False, temporal_average=2, execution=execution).train()
        out = net(_busy_clips())
        out.sum().backward()
        assert out.shape == (3, 5) and torch.isfinite(out).all()


def test_fixed_average_cost_counts_the_layers_after_it_at_t_over_k():
    plain = _net(sgs=False).eval()
    clip = torch.zeros(1, 3, 16, 32, 32)
    pre_blocks, post_blocks = nn.Sequential(*plain.blocks[:2]), nn.Sequential(*plain.blocks[2:])
    pre, _ = count_gflops(pre_blocks, (clip,))
    full, _ = count_gflops(plain, (clip,))
    cost = {k: sgs_cost_table(_net(sgs=False, temporal_average=k), num_frames=16, crop_size=32).backbone_gflops
            for k in (1, 2, 4)}
    assert cost[1] == pytest.approx(full)
    assert pre < cost[4] < cost[2] < full
    # Independently: the plain backbone's layers after res2 on every 4th slice (T/4 of them).
    with torch.no_grad():
        every_fourth = plain.pre(clip)[:, :, ::4].contiguous()
    post_quarter, _ = count_gflops(post_blocks, (every_fourth,))
    assert cost[4] == pytest.approx(pre + post_quarter, rel=1e-9)
    assert cached_cost_table(_net(sgs=False, temporal_average=4), num_frames=16, crop_size=32).backbone_gflops == (
        pytest.approx(cost[4], rel=1e-9)
    )


def test_fixed_average_arguments_are_checked():
    with pytest.raises(ValueError, match="temporal_average=2 .* pass sgs=False"):
        _net(temporal_average=2)
    with pytest.raises(ValueError, match=r"temporal_average=4 needs T at 'res2' to be a multiple of 4, got T = 6"):
        _net(sgs=False, temporal_average=4, num_frames=6)
    with pytest.raises(ValueError, match="temporal_average must be >= 1"):
        _net(sgs=False, temporal_average=0)
    with pytest.raises(ValueError, match="temporal_average is supported for single-pathway backbones"):
        SlowFastSGSNetwork(backbone="slowfast_r50", num_classes=5, num_frames=16, crop_size=32, sgs=False, temporal_average=2)
    with pytest.raises(ValueError, match="needs T divisible by 4, got T = 6"):
        FixedTemporalAverage(stride=4)(torch.zeros(1, 2, 6, 3, 3))


def test_the_divisibility_check_leaves_batch_norm_statistics_alone():
    net = _net(sgs=False, temporal_average=2)
    fresh = _net(sgs=False)
    assert net.training
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(net.state_dict()[key], value, msg=key)


# ------------------------------------------------------------------------ overlapping tents
@torch.no_grad()
def test_overlapping_tents_reach_every_sgs_layer_and_keep_every_slice():
    net = _net(sgs=True, num_bins=4, kernel="linear", sgs_tents="overlapping").eval()
    slowfast = SlowFastSGSNetwork(backbone="slowfast_r50", num_classes=5, num_frames=16, crop_size=32,
                                  sgs_tents="overlapping")
    layers = [m for m in [*net.modules(), *slowfast.modules()] if m.__class__.__name__ == "SimilarityGuidedSampling"]
    assert len(layers) == 3 and all(layer.tents == "overlapping" for layer in layers)
    # With the plain sum kernel and overlapping tents, every slice's weights sum to 1: the bins
    # add up to the sum of the slices (the paper's disjoint tents lose the slices between centres).
    features = net.pre(_busy_clips())
    bins, active = net.sgs(features)
    torch.testing.assert_close(bins.sum(dim=2), features.sum(dim=2), atol=1e-4, rtol=1e-4)
    assert active.max() <= 4
