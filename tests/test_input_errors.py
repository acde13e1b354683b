"""A malformed clip gets one message at the network boundary naming the layout and the minimum sizes."""

from __future__ import annotations

import pytest
import torch

from atfr_lightning.models import ClipShapeError, SGSNetwork, SlowFastSGSNetwork
from atfr_lightning.models.input_check import min_spatial_size

SMALL = dict(backbone_kwargs={"width_factor": 1.0, "depth_factor": 1.0}, num_classes=3, num_bins=4)


@pytest.fixture(scope="module")
def x3d():
    return SGSNetwork(backbone="x3d_s", num_frames=8, crop_size=64, **SMALL).eval()


@pytest.mark.parametrize(
    "clip, fragment",
    [
        (torch.zeros(3, 8, 64, 64), "got a 4-D tensor of shape (3, 8, 64, 64) (one clip? add the batch"),
        (torch.zeros(1, 2, 3, 64, 64), "got 2 channels"),
        (torch.zeros(1, 8, 64, 64, 3), "channels last?"),
        (torch.zeros(1, 3, 8, 64, 64, dtype=torch.uint8), "got dtype torch.uint8"),
        (torch.zeros(1, 3, 8, 32, 64), "got H x W = 32 x 64"),
        ([1, 2, 3], "got a list"),
    ],
)
def test_bad_clips_name_the_expected_layout(x3d, clip, fragment):
    with pytest.raises(ClipShapeError) as error:
        x3d(clip)
    message = str(error.value)
    assert "x3d_s expects clips as a float tensor of shape (N, 3, T, H, W)" in message
    assert "H and W >= 33 (its head is sized for crop_size=64)" in message
    assert fragment in message


def test_the_stated_minimum_is_the_real_one(x3d):
    """The smallest H = W the message allows runs, one pixel less fails inside torch without the check."""
    size = min_spatial_size(64)
    with torch.no_grad():
        assert x3d(torch.zeros(1, 3, 8, size, size)).shape == (1, 3)
        assert x3d(torch.zeros(1, 3, 1, 96, 96)).shape == (1, 3)  # larger and shorter clips are fine
        with pytest.raises(RuntimeError):
            super(SGSNetwork, x3d).forward_post(*x3d.forward_features(torch.zeros(1, 3, 8, size - 1, size - 1)))


@pytest.mark.slow
def test_slowfast_needs_a_multiple_of_alpha_frames():
    net = SlowFastSGSNetwork(backbone="slowfast_r50", num_classes=3, num_frames=16, crop_size=32, num_bins=2).eval()
    alpha = net.alpha
    with pytest.raises(ClipShapeError, match=rf"T >= {alpha} and a multiple of {alpha}.*got T = {alpha + 1}"):
        net(torch.zeros(1, 3, alpha + 1, 32, 32))
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 2 * alpha, 32, 32)).shape == (1, 3)


def test_fixed_average_needs_a_multiple_of_its_stride():
    net = SGSNetwork(backbone="x3d_s", num_frames=8, crop_size=32, sgs=False, temporal_average=4,
                     **{k: v for k, v in SMALL.items() if k != "num_bins"}).eval()
    with pytest.raises(ClipShapeError, match=r"T >= 4 and a multiple of 4.*got T = 6"):
        net(torch.zeros(1, 3, 6, 32, 32))
