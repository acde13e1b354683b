"""The inference layout: channels-last 3D where depthwise convolutions gain from it, same logits."""

from __future__ import annotations

import pytest
import torch
from mixed_clips import frames_for, mixed_clips
from torch import nn

from atfr_lightning.models import build_network
from atfr_lightning.models.inference import folded_copy
from atfr_lightning.models.layout import has_depthwise_convolution, inference_layout

CROP = 32

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(name: str) -> nn.Module:
    torch.manual_seed(0)
    return build_network(backbone=name, num_classes=5, num_frames=frames_for(name), crop_size=CROP).eval()


@pytest.mark.parametrize(("name", "depthwise"), [
    ("x3d_xs", True), ("csn_r101", True), ("slow_r50", False), ("slowfast_r50", False), ("r2plus1d_r50", False),
])
def test_auto_layout_is_channels_last_on_a_cpu_only_for_depthwise_networks(name, depthwise):
    net = _net(name)
    assert has_depthwise_convolution(net) is depthwise
    assert inference_layout(net, "cpu") == ("channels_last" if depthwise else "contiguous")
    # Not measured on a GPU: contiguous there, whatever the network.
    assert inference_layout(net, torch.device("cuda")) == "contiguous"
    for forced in ("contiguous", "channels_last"):
        assert inference_layout(net, "cpu", forced) == forced


def test_a_pointwise_or_dense_grouped_convolution_is_not_depthwise():
    assert not has_depthwise_convolution(nn.Conv3d(8, 8, 1, groups=8))  # no spatial extent
    assert not has_depthwise_convolution(nn.Conv3d(8, 8, 3, groups=2))  # grouped, not depthwise
    assert has_depthwise_convolution(nn.Conv3d(8, 8, (1, 3, 3), groups=8))


def test_an_unknown_layout_is_named_in_the_error():
    with pytest.raises(ValueError, match="'nhwc'"):
        inference_layout(nn.Identity(), "cpu", "nhwc")


@pytest.mark.parametrize("name", ["x3d_s", "csn_r101"])
def test_channels_last_folded_copy_gives_the_same_logits_in_every_execution_and_alone(name):
    x = mixed_clips(5, frames_for(name), CROP, dtype=torch.float64)
    torch.manual_seed(0)
    net = build_network(backbone=name, num_classes=5, num_frames=frames_for(name), crop_size=CROP,
                        dropout=0.0).double()
    with torch.no_grad():
        net.train()(x)
        net.eval().execution = "grouped"
        expected = net(x)
        folded = folded_copy(net).use_channels_last()
        conv = next(m for m in folded.modules() if isinstance(m, nn.Conv3d) and m.groups > 1)
        assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
        for execution in ("exact", "masked", "packed", "grouped"):
            folded.execution = execution
            torch.testing.assert_close(folded(x), expected, atol=1e-9, rtol=1e-9, msg=execution)
        assert len(set(folded.sgs.last_active_bins.tolist())) > 1, "the test needs clips with different B'"
        folded.execution = "exact"
        alone = torch.cat([folded(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(alone, expected, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize(("name", "layout", "channels_last"), [
    ("x3d_xs", "auto", True), ("slow_r50", "auto", False), ("x3d_xs", "contiguous", False),
    ("slow_r50", "channels_last", True),
])
def test_predict_runs_its_folded_copy_in_the_chosen_layout(name, layout, channels_last):
    from atfr_lightning.lightning import VideoClassifier

    module = VideoClassifier(net=_net(name), predict_layout=layout).eval()
    x = mixed_clips(3, frames_for(name), CROP)
    with torch.no_grad():
        expected = module(x)
        module.on_predict_start()
        running = module.running_net()
        assert getattr(running, "channels_last", False) is channels_last
        conv = next(m for m in running.modules() if isinstance(m, nn.Conv3d) and m.kernel_size != (1, 1, 1))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d) is channels_last
        torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)
    module.on_predict_end()
    first = next(m for m in module.net.modules() if isinstance(m, nn.Conv3d) and m.kernel_size != (1, 1, 1))
    assert first.weight.is_contiguous(), "the trained network's layout changed"


def test_an_unknown_predict_layout_is_refused_when_the_module_is_built():
    from atfr_lightning.lightning import VideoClassifier

    with pytest.raises(ValueError, match="predict_layout.*'nchw'"):
        VideoClassifier(net=_net("x3d_xs"), predict_layout="nchw")
