"""Every registered backbone with and without SGS: builder parity, training, exact execution."""

import copy

import pytest
import torch
from mixed_clips import frames_for, mixed_clips

from atfr_lightning._pytorchvideo import import_pytorchvideo
from atfr_lightning.flops.published import PUBLISHED
from atfr_lightning.models import (
    AdaptiveTemporalNetwork,
    SGSNetwork,
    SlowFastSGSNetwork,
    available_backbones,
    build_network,
    get_backbone_spec,
)
from atfr_lightning.models.masking import StridedTemporalMask, TemporalMask
from atfr_lightning.models.slowfast import pack_pathways
from atfr_lightning.models.temporal_resample import adaptive_average_weights, resample_time

EXPECTED = {
    "x3d_xs", "x3d_s", "x3d_m", "x3d_l", "slow_r50", "c2d_r50", "i3d_r50", "r2plus1d_r50", "csn_r101",
    "slowfast_r50", "slowfast_r50_4x16", "slowfast_r101",
}
CROP = 32


pytestmark = pytest.mark.usefixtures("one_thread")


def _frames(name: str) -> int:
    return frames_for(name)


def _clips(n: int, frames: int) -> torch.Tensor:
    return mixed_clips(n, frames, CROP)


def _net(name: str, **kwargs) -> AdaptiveTemporalNetwork:
    torch.manual_seed(0)
    return build_network(backbone=name, num_classes=5, num_frames=_frames(name), crop_size=CROP, **kwargs)


def _settle(net: AdaptiveTemporalNetwork, x: torch.Tensor) -> AdaptiveTemporalNetwork:
    # Training-mode passes move batch norm away from its initial statistics, so clips differ in B'.
    net.train()
    with torch.no_grad():
        net(x)
    return net.eval()


def test_registry_has_every_backbone_with_its_standard_input():
    assert EXPECTED <= set(available_backbones())
    assert (get_backbone_spec("x3d_m").num_frames, get_backbone_spec("x3d_m").crop_size) == (16, 224)
    assert get_backbone_spec("csn_r101").num_frames == 32
    assert (get_backbone_spec("slowfast_r50_4x16").num_frames, get_backbone_spec("slowfast_r50_4x16").alpha) == (32, 8)
    assert get_backbone_spec("c2d_r50").sgs_stages == ("stem", "res2", "res3", "res4", "res5")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_architecture_and_parameters_match_the_hub_and_the_zoo(name):
    # Built on the meta device: shapes only, no memory or compute.
    spec = get_backbone_spec(name)
    with torch.device("meta"):
        net = build_network(backbone=name, num_classes=400, sgs=False)
        hub = import_pytorchvideo("pytorchvideo.models.hub")
        ref = getattr(hub, spec.hub_name)(pretrained=False) if spec.hub_name else None
    if ref is not None:  # same keys and shapes: model-zoo checkpoints load unchanged
        assert {k: v.shape for k, v in net.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    params = sum(p.numel() for p in net.parameters()) / 1e6
    assert params == pytest.approx(PUBLISHED[name].params_m, rel=0.01)  # the X3D paper rounds to 0.1 M


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sgs_off_equals_the_builder_and_trains(name):
    spec = get_backbone_spec(name)
    net = _net(name, sgs=False).eval()
    ref = spec.build(num_classes=5, num_frames=_frames(name), crop_size=CROP).eval()
    ref.load_state_dict(net.state_dict())  # identical key names: blocks.<i>.*
    x = _clips(3, _frames(name))
    with torch.no_grad():
        builder_input = pack_pathways(x, alpha=spec.alpha) if spec.family == "slowfast" else x
        torch.testing.assert_close(net(x), ref(builder_input))
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sgs_on_trains_and_only_sgs_parameters_are_new(name):
    net = _net(name)
    with torch.device("meta"):
        without = set(_net(name, sgs=False).state_dict())
    new = set(net.state_dict()) - without
    assert without <= set(net.state_dict()) and new and all(k.startswith("sgs.") for k in new)
    layers = net.sgs_layers()
    assert set(layers) == ({"sgs_slow", "sgs_fast"} if name.startswith("slowfast") else {"sgs"})
    x = _clips(3, _frames(name))
    loss = torch.nn.functional.cross_entropy(net.train()(x), torch.arange(3))
    loss.backward()
    for layer_name, layer in layers.items():
        assert layer.embed[0].weight.grad.abs().sum() > 0, layer_name
        assert layer.last_active_bins.shape == (3,)
    assert torch.isfinite(net.eval()(x)).all()


@pytest.mark.parametrize("name", ["slowfast_r50", "r2plus1d_r50", "c2d_r50"])
def test_eval_is_exact_grouped_masked_and_alone(name):
    # SlowFast: two SGS layers and the lateral resampling; R(2+1)D: temporal strides after SGS;
    # C2D: the temporal max pool after res2.
    x = _clips(5, _frames(name))
    net = _settle(_net(name, dropout=0.0), x)
    with torch.no_grad():
        net.execution = "grouped"
        grouped = net(x)
        keys = list(zip(*(layer.last_active_bins.tolist() for layer in net.sgs_layers().values())))
        assert len(set(keys)) > 1, "the test needs clips with different B'"
        net.execution = "masked"
        torch.testing.assert_close(net(x), grouped, atol=1e-5, rtol=0)
        net.execution = "bucketed"
        torch.testing.assert_close(net(x), grouped, atol=1e-5, rtol=0)
        net.execution = "packed"
        torch.testing.assert_close(net(x), grouped, atol=1e-5, rtol=0)
        net.execution = "grouped"
        alone = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(alone, grouped, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["slowfast_r50", "i3d_r50"])
def test_masked_training_ignores_what_the_padding_holds(name):
    # Both have a temporal convolution right after SGS (the lateral one, I3D's res3 conv_a).
    x = _clips(5, _frames(name))
    net = _settle(_net(name, execution="masked", dropout=0.0), x).train()
    features, active = net.forward_features(x)
    if isinstance(features, torch.Tensor):
        features, active = [features], [active]
    garbage = [f.clone() for f in features]
    for f, bins in zip(garbage, active):
        for n, b in enumerate(bins.tolist()):
            f[n, :, b:] = torch.randn_like(f[n, :, b:]) * 100
    unwrap = (lambda v: v) if isinstance(net, SlowFastSGSNetwork) else (lambda v: v[0])
    state = copy.deepcopy(net.state_dict())
    clean = net.forward_post(unwrap(features), unwrap(active))
    clean_state = copy.deepcopy(net.state_dict())
    net.load_state_dict(state)
    torch.testing.assert_close(net.forward_post(unwrap(garbage), unwrap(active)), clean)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, clean_state[key], msg=key)


def test_slowfast_pathways_have_their_own_sgs_and_bins():
    net = _net("slowfast_r50", num_bins=2)
    assert isinstance(net, SlowFastSGSNetwork) and isinstance(net, AdaptiveTemporalNetwork)
    assert (net.sgs["slow"].num_bins, net.sgs["fast"].num_bins) == (2, 8)  # alpha x B for Fast
    assert net.sgs["slow"].in_channels == 256 and net.sgs["fast"].in_channels == 32
    features, active = net.eval().forward_features(_clips(3, 16))
    assert [f.shape[2] for f in features] == [int(a.max()) for a in active]
    assert all(int(a.max()) <= b for a, b in zip(active, (2, 8)))
    assert copy.deepcopy(net).backbone_name == "slowfast_r50"  # copies keep the class


@pytest.mark.parametrize(
    "name, stage", [("slowfast_r50_4x16", "stem"), ("slowfast_r50_4x16", "res5"), ("i3d_r50", "stem"), ("csn_r101", "res4")]
)
def test_sgs_at_any_stage(name, stage):
    net = _net(name, insert_after=stage)
    out = net.train()(_clips(3, _frames(name)))
    out.sum().backward()
    assert out.shape == (3, 5) and torch.isfinite(out).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="insert_after must be one of .* got 'pool2'"):
        _net("c2d_r50", insert_after="pool2")
    with pytest.raises(ValueError, match="num_frames must be >= alpha = 8"):
        SlowFastSGSNetwork(backbone="slowfast_r50_4x16", num_classes=5, num_frames=4, crop_size=CROP)
    with pytest.raises(ValueError, match="'x3d_s' is a x3d backbone: use atfr_lightning.models.SGSNetwork"):
        SlowFastSGSNetwork(backbone="x3d_s", num_classes=5)
    with pytest.raises(ValueError, match="'slowfast_r50' is a slowfast backbone: use atfr_lightning.models.SlowFast"):
        SGSNetwork(backbone="slowfast_r50", num_classes=5)
    with pytest.raises(ValueError, match="num_bins must be None"):
        _net("slowfast_r50", num_bins=0)


def test_mask_strides_follow_halvings_and_explicit_strides():
    mask = TemporalMask()
    mask.lengths, mask.steps = torch.tensor([5, 4, 3, 1]), 5
    assert mask.stride_for(5) == 1 and mask.stride_for(3) == 2 and mask.stride_for(2) == 4
    # ceil(ceil(L / 2) / 2) = ceil(L / 4): the length of each clip run alone after two strides.
    assert mask.lengths_for(2).tolist() == [2, 1, 1, 1]
    with pytest.raises(ValueError, match="stride-2 halvings"):
        _mask_with(steps=9).stride_for(4)  # 9 -> 5 -> 3: no halving gives 4
    lateral = StridedTemporalMask(parent=mask, stride=4)
    assert lateral.active() and lateral.lengths_for(2).tolist() == [2, 1, 1, 1]


def _mask_with(*, steps: int) -> TemporalMask:
    mask = TemporalMask()
    mask.lengths, mask.steps = torch.tensor([steps]), steps
    return mask


def test_per_clip_resampling_equals_adaptive_average_pool():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 8, 3, 3)
    src, dst = torch.tensor([8, 5, 2, 1]), torch.tensor([3, 4, 6, 1])
    out = resample_time(x, 6, src_lengths=src, dst_lengths=dst)
    for n in range(4):
        alone = torch.nn.functional.adaptive_avg_pool3d(x[n : n + 1, :, : src[n]], (int(dst[n]), 3, 3))
        torch.testing.assert_close(out[n : n + 1, :, : dst[n]], alone)
        assert out[n, :, dst[n] :].abs().sum() == 0
    assert resample_time(x, 8) is x  # equal lengths: the identity, no copy
    assert adaptive_average_weights(torch.tensor([4]), torch.tensor([2]), src_steps=4, dst_steps=2).tolist() == [
        [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    ]
    with pytest.raises(ValueError, match="both"):
        resample_time(x, 4, src_lengths=src)
