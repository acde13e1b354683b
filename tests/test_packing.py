"""Packed execution: each packed layer equals the layer run on every clip alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atfr_lightning.models import build_network, get_backbone_spec
from atfr_lightning.models.packing import (
    PackedLengths,
    pack,
    packed_conv3d,
    packed_max_pool3d,
    segment_mean,
    tap_rows,
    temporal_output_lengths,
    unpack,
)

LENGTHS = torch.tensor([1, 4, 2, 5])


pytestmark = pytest.mark.usefixtures("one_thread")


def _clips(channels: int = 4) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(len(LENGTHS), channels, int(LENGTHS.max()), 5, 5, dtype=torch.float64)


def _alone(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The reference: every clip cut to its own length and run alone, outputs stacked as rows."""
    outs = [layer(x[n : n + 1, :, :length]) for n, length in enumerate(LENGTHS.tolist())]
    return torch.cat([o.transpose(1, 2).reshape(-1, o.shape[1], 1, *o.shape[3:]) for o in outs])


def test_pack_and_unpack_keep_the_valid_slices_in_clip_order():
    x = _clips()
    rows = pack(x, LENGTHS)
    assert rows.shape == (int(LENGTHS.sum()), 4, 1, 5, 5)
    torch.testing.assert_close(rows[1:5, :, 0], x[1, :, :4].transpose(0, 1))  # clip 1 follows clip 0's one row
    dense = unpack(rows, LENGTHS, x.shape[2])
    for n, length in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(dense[n, :, :length], x[n, :, :length])
        assert (dense[n, :, length:] == 0).all()


@pytest.mark.parametrize("kernel,stride,padding", [(3, 1, 1), (3, 2, 1), (5, 4, 2), (7, 4, 3), (1, 2, 0)])
def test_output_lengths_and_taps_follow_a_loop_over_each_clip(kernel, stride, padding):
    out = temporal_output_lengths(LENGTHS, kernel=kernel, stride=stride, padding=padding)
    for n, length in enumerate(LENGTHS.tolist()):  # PyTorch's own rule, one clip at a time
        assert out[n] == F.conv1d(torch.zeros(1, 1, length), torch.zeros(1, 1, kernel), stride=stride,
                                  padding=padding).shape[-1]
    index = tap_rows(LENGTHS, out, kernel=kernel, stride=stride, padding=padding)
    expected, first = [], 0
    for length, count in zip(LENGTHS.tolist(), out.tolist()):
        for j in range(count):
            taps = [stride * j + k - padding for k in range(kernel)]
            expected.append([first + t if 0 <= t < length else int(LENGTHS.sum()) for t in taps])
        first += length
    assert index.tolist() == expected


def test_ceil_mode_pool_lengths_follow_pytorch():
    out = temporal_output_lengths(LENGTHS, kernel=2, stride=2, padding=0, ceil_mode=True)
    for n, length in enumerate(LENGTHS.tolist()):
        assert out[n] == F.max_pool1d(torch.zeros(1, 1, length), 2, 2, ceil_mode=True).shape[-1]


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv3d(4, 6, (3, 1, 1), padding=(1, 0, 0)),  # dense temporal (ResNet conv_a)
        nn.Conv3d(4, 6, (3, 3, 3), stride=(2, 2, 2), padding=1, bias=False),  # with a temporal stride
        nn.Conv3d(4, 4, (3, 3, 3), padding=1, groups=4),  # depthwise (X3D, CSN)
        nn.Conv3d(4, 6, (5, 1, 1), stride=(4, 1, 1), padding=(2, 0, 0)),  # SlowFast's lateral
        nn.Conv3d(4, 6, (1, 1, 1), stride=(2, 1, 1)),  # a temporal stride alone (R(2+1)D shortcut)
    ],
    ids=["dense", "strided", "depthwise", "lateral", "stride-only"],
)
def test_packed_convolution_equals_each_clip_alone(conv):
    conv = conv.double()
    x = _clips()
    state = PackedLengths(LENGTHS)
    out = packed_conv3d(conv, pack(x, LENGTHS), state)
    torch.testing.assert_close(out, _alone(conv, x))
    assert int(state.of(out).sum()) == out.shape[0]  # its lengths are known to later layers


def test_packed_max_pool_equals_each_clip_alone():
    pool = nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1), ceil_mode=True)  # C2D/I3D after res2
    x = _clips()
    torch.testing.assert_close(packed_max_pool3d(pool, pack(x, LENGTHS), PackedLengths(LENGTHS)), _alone(pool, x))


def test_segment_mean_is_each_clips_mean():
    x = _clips()
    means = segment_mean(pack(x, LENGTHS), PackedLengths(LENGTHS))
    for n, length in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(means[n, :, 0], x[n, :, :length].mean(dim=1))


def test_an_unknown_row_count_is_named():
    with pytest.raises(RuntimeError, match="7 rows"):
        PackedLengths(LENGTHS).of(torch.zeros(7, 1, 1, 1, 1))


@pytest.mark.parametrize("name", ["x3d_s", "csn_r101", "i3d_r50", "r2plus1d_r50", "slowfast_r50_4x16"])
def test_packed_network_equals_grouped_and_each_clip_alone(name):
    spec = get_backbone_spec(name)
    frames = 4 * spec.alpha if spec.family == "slowfast" else 8
    torch.manual_seed(1)
    x = torch.randn(5, 3, frames, 32, 32, dtype=torch.float64)
    x[0] = x[0, :, :1]
    x[1, :, : frames // 2] = x[1, :, :1]
    torch.manual_seed(0)
    net = build_network(backbone=name, num_classes=5, num_frames=frames, crop_size=32, dropout=0.0).double()
    with torch.no_grad():
        net.train()(x)
        net.eval()
        net.execution = "grouped"
        grouped = net(x)
        keys = list(zip(*(layer.last_active_bins.tolist() for layer in net.sgs_layers().values())))
        assert len(set(keys)) > 1, "the test needs clips with different B'"
        net.execution = "packed"
        torch.testing.assert_close(net(x), grouped, atol=1e-10, rtol=1e-10)
        alone = torch.cat([net(x[i : i + 1]) for i in range(len(x))])
    torch.testing.assert_close(alone, grouped, atol=1e-10, rtol=1e-10)


def test_packed_convolution_passes_gradients_to_its_weights_when_asked():
    conv = nn.Conv3d(4, 6, (3, 1, 1), padding=(1, 0, 0)).double()
    x = _clips()
    packed_conv3d(conv, pack(x, LENGTHS), PackedLengths(LENGTHS)).sum().backward()
    expected = conv.weight.grad.clone()
    conv.weight.grad = None
    _alone(conv, x).sum().backward()
    torch.testing.assert_close(expected, conv.weight.grad)


def test_packed_layers_pass_gradcheck():
    torch.manual_seed(0)
    lengths = torch.tensor([1, 3, 2])
    state = PackedLengths(lengths)
    conv = nn.Conv3d(2, 2, (3, 1, 1), padding=(1, 0, 0)).double()
    depthwise = nn.Conv3d(2, 2, (3, 1, 1), padding=(1, 0, 0), groups=2).double()
    rows = torch.randn(int(lengths.sum()), 2, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r: packed_conv3d(conv, r, state), (rows,))
    assert torch.autograd.gradcheck(lambda r: packed_conv3d(depthwise, r, state), (rows,))
    assert torch.autograd.gradcheck(lambda r: segment_mean(r, state), (rows,))
