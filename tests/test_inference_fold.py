"""Batch norm folded into the convolutions for inference: same logits, exact per clip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mixed_clips import frames_for, mixed_clips
from torch import nn

from atfr_lightning.models import SlowFastSGSNetwork, build_network
from atfr_lightning.models.inference import PointwiseConv3d, fold_batch_norm, fold_for_inference, folded_copy
from atfr_lightning.models.masking import TemporalMask, zero_padding_

CROP = 32


pytestmark = pytest.mark.usefixtures("one_thread")


def _frames(name: str) -> int:
    return frames_for(name)


def _clips(n: int, frames: int) -> torch.Tensor:
    return mixed_clips(n, frames, CROP, dtype=torch.float64)


def _trained_looking(name: str, x: torch.Tensor):
    """A network whose batch norms hold non-trivial statistics and affine parameters."""
    torch.manual_seed(0)
    net = build_network(backbone=name, num_classes=5, num_frames=_frames(name), crop_size=CROP, dropout=0.0).double()
    with torch.no_grad():
        net.train()(x)
        generator = torch.Generator().manual_seed(2)
        for module in net.modules():
            if isinstance(module, nn.BatchNorm3d):
                size = module.num_features
                module.running_var.copy_(torch.rand(size, generator=generator, dtype=torch.float64) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator, dtype=torch.float64) + 0.5)
                module.bias.copy_(torch.rand(size, generator=generator, dtype=torch.float64) - 0.5)
    return net.eval()


def test_one_folded_convolution_equals_conv_then_batch_norm():
    torch.manual_seed(0)
    conv = nn.Conv3d(4, 6, (3, 3, 3), padding=1, groups=2, bias=True).double()
    norm = nn.BatchNorm3d(6).double().eval()
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.5, 2)
    norm.weight.data.uniform_(0.5, 1.5)
    norm.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 4, 5, 7, 7, dtype=torch.float64)
    expected = F.batch_norm(conv(x), norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)
    fold_batch_norm(conv, norm)
    torch.testing.assert_close(conv(x), expected)


@pytest.mark.parametrize("name", ["x3d_s", "slowfast_r50", "r2plus1d_r50", "c2d_r50", "slow_r50"])
def test_folded_network_gives_the_same_logits_in_every_execution_and_alone(name):
    # X3D: Sequential(BN, squeeze-excitation) and its factorised stem; SlowFast: laterals;
    # R(2+1)D: factorised convolutions and temporal strides; C2D: the temporal max pool.
    x = _clips(5, _frames(name))
    net = _trained_looking(name, x)
    folded = folded_copy(net)
    remaining = [n for n, m in folded.named_modules() if isinstance(m, nn.BatchNorm3d)]
    assert remaining == [], remaining
    with torch.no_grad():
        for execution in ("grouped", "masked", "bucketed", "packed", "padded"):
            net.execution = folded.execution = execution
            torch.testing.assert_close(folded(x), net(x), atol=1e-9, rtol=1e-9, msg=execution)
        keys = list(zip(*(layer.last_active_bins.tolist() for layer in folded.sgs_layers().values())))
        assert len(set(keys)) > 1, "the test needs clips with different B'"
        folded.execution = "exact"
        together = folded(x)
        alone = torch.cat([folded(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(alone, together, atol=1e-9, rtol=1e-9)
    assert any(isinstance(m, nn.BatchNorm3d) for m in net.modules()), "folded_copy changed the original"


@pytest.mark.parametrize("name", ["i3d_r50", "slowfast_r50", "x3d_s"])
def test_folded_masked_pass_ignores_what_the_padding_holds(name):
    # Without batch norm re-zeroing the padding, the temporal convolutions must zero it themselves.
    x = _clips(5, _frames(name))
    net = folded_copy(_trained_looking(name, x))
    net.execution = "masked"
    with torch.no_grad():
        features, active = net.forward_features(x)
        if isinstance(features, torch.Tensor):
            features, active = [features], [active]
        garbage = [f.clone() for f in features]
        for f, bins in zip(garbage, active):
            for n, b in enumerate(bins.tolist()):
                f[n, :, b:] = torch.randn_like(f[n, :, b:]) * 100
        unwrap = (lambda v: v) if isinstance(net, SlowFastSGSNetwork) else (lambda v: v[0])
        clean = net.forward_post(unwrap(features), unwrap(active))
        before = [f.clone() for f in garbage]
        torch.testing.assert_close(net.forward_post(unwrap(garbage), unwrap(active)), clean, atol=1e-9, rtol=1e-9)
    for f, kept in zip(garbage, before):  # the padding is zeroed in place inside the pass, never in the caller's tensor
        torch.testing.assert_close(f, kept, atol=0, rtol=0)
    with torch.enable_grad():  # autograd on: padding zeroed into new tensors, same result
        torch.testing.assert_close(net.forward_post(unwrap(garbage), unwrap(active)), clean, atol=1e-9, rtol=1e-9)


def test_zeroing_the_padding_in_place_equals_multiplying_by_the_mask():
    mask = TemporalMask()
    mask.lengths, mask.steps = torch.tensor([3, 1, 4]), 4
    x = torch.randn(3, 2, 4, 5, 5, dtype=torch.float64)
    expected = x * mask.mask_for(x)
    zero_padding_(x, mask)
    torch.testing.assert_close(x, expected, atol=0, rtol=0)
    assert mask.length_list_for(2) == [2, 1, 2]  # a map after one stride-2 halving: ceil(L / 2)


def test_pointwise_convolution_as_a_matrix_product_equals_the_convolution():
    torch.manual_seed(0)
    conv = nn.Conv3d(6, 4, 1).double()
    fast = PointwiseConv3d(6, 4, 1).double()
    fast.load_state_dict(conv.state_dict())
    for shape in ((3, 6, 1, 1, 1), (3, 6, 2, 5, 5)):  # pooled: F.linear; a feature map: the convolution
        x = torch.randn(*shape, dtype=torch.float64)
        torch.testing.assert_close(fast(x), conv(x), atol=1e-12, rtol=1e-12)


def test_folding_swaps_swish_for_silu_and_pooled_pointwise_convolutions_for_linear():
    from pytorchvideo.layers.swish import Swish

    net = build_network(backbone="x3d_xs", num_classes=5, num_frames=8, crop_size=CROP).eval()
    swish = sum(isinstance(m, Swish) for m in net.modules())
    folded = folded_copy(net)
    assert swish > 0 and not any(isinstance(m, Swish) for m in folded.modules())
    assert sum(isinstance(m, nn.SiLU) for m in folded.modules()) == swish
    squeeze_excitation = folded.blocks[2].res_blocks[0].branch2.norm_b[1].block
    assert isinstance(squeeze_excitation[0], PointwiseConv3d) and isinstance(squeeze_excitation[2], PointwiseConv3d)
    x = torch.randn(4, 8)
    torch.testing.assert_close(nn.SiLU()(x), Swish()(x))


def test_folding_needs_evaluation_mode_and_a_folded_network_refuses_training():
    net = build_network(backbone="x3d_xs", num_classes=5, num_frames=8, crop_size=CROP)
    with pytest.raises(ValueError, match="evaluation mode"):
        fold_for_inference(net.train())
    folded = folded_copy(net)
    assert folded.folded_for_inference and not folded.training
    with pytest.raises(RuntimeError, match="cannot be trained"):
        folded.train()
    folded.eval()  # still allowed


def test_a_copy_folded_under_inference_mode_runs_packed():
    # Lightning's predict loop calls on_predict_start, which folds the copy, under
    # torch.inference_mode: its weights are inference tensors, without a version counter.
    x = _clips(5, _frames("slow_r50"))
    net = _trained_looking("slow_r50", x)  # dense temporal convolutions: packed gathers their taps
    net.execution = "grouped"
    with torch.inference_mode():
        expected = net(x)
        folded = folded_copy(net)
        folded.execution = "packed"
        assert folded.blocks[3].res_blocks[0].branch2.conv_a.weight.is_inference()
        torch.testing.assert_close(folded(x), expected, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(folded(x), expected, atol=1e-9, rtol=1e-9)  # the cached tap weights
    assert len(set(folded.sgs.last_active_bins.tolist())) > 1, "the test needs clips with different B'"


def test_predict_runs_a_folded_copy_and_leaves_the_trained_network_alone():
    from atfr_lightning.lightning import VideoClassifier

    net = build_network(backbone="slow_r50", num_classes=5, num_frames=8, crop_size=CROP).eval()
    module = VideoClassifier(net=net).eval()
    x = _clips(3, 8).float()
    with torch.no_grad():
        expected = module(x)
        module.on_predict_start()
        running = module.running_net()
        assert running is not net and running.folded_for_inference
        torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)
        assert set(module.active_bins()) == {"sgs"}
    module.on_predict_end()
    assert module.running_net() is net and "_predict_net" not in dict(module.named_modules())
    assert not any(k.startswith("_predict_net") for k in module.state_dict())
