"""The SGS module: robustness, gradients, autocast."""

import pytest
import torch

from atfr_lightning.sgs import SimilarityGuidedSampling


def _layer(**kwargs):
    torch.manual_seed(0)
    return SimilarityGuidedSampling(in_channels=6, **kwargs)


def test_output_shape_and_counts():
    layer = _layer()
    x = torch.randn(4, 6, 8, 3, 3)
    y, active = layer(x)
    assert active.dtype == torch.int64 and active.shape == (4,)
    assert y.shape == (4, 6, int(active.max()), 3, 3)
    assert torch.equal(layer.last_active_bins, active)
    # Past each clip's B' the output is exactly zero.
    for n, b in enumerate(active.tolist()):
        assert torch.count_nonzero(y[n, :, b:]) == 0


@pytest.mark.parametrize("mode", ["default", "reference"])
def test_static_clip_gives_one_bin(mode):
    layer = _layer(mode=mode).eval()
    x = torch.randn(1, 6, 1, 3, 3).expand(2, 6, 8, 3, 3).contiguous()
    y, active = layer(x)
    assert active.tolist() == [1, 1]
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("steps, num_bins", [(1, None), (8, 16), (8, 3), (5, None)])
def test_any_length_and_bin_count(steps, num_bins):
    layer = _layer(num_bins=num_bins)
    y, active = layer(torch.randn(3, 6, steps, 2, 2))
    assert torch.isfinite(y).all()
    assert 1 <= int(active.max()) <= (num_bins or steps)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_keeps_binning_in_float32(dtype, monkeypatch):
    from atfr_lightning.sgs import functional

    seen = []
    original = functional.bin_weights

    def recording(distances, *args, **kwargs):
        seen.append(distances.dtype)
        return original(distances, *args, **kwargs)

    monkeypatch.setattr(functional, "bin_weights", recording)
    layer = _layer().eval()
    x = torch.randn(2, 6, 8, 3, 3)
    with torch.autocast("cpu", dtype=dtype):
        y, active = layer(x)
    assert seen == [torch.float32], f"binning ran in {seen} under {dtype} autocast"
    assert torch.isfinite(y.float()).all()
    _, active_fp32 = layer(x)
    assert active.shape == active_fp32.shape


def test_gradcheck_layer_float64():
    layer = _layer(latent_dim=4).double().eval()
    x = torch.randn(2, 6, 5, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp)[0], (x,), eps=1e-6, atol=1e-5)


def test_gradcheck_layer_overlapping_tents_float64():
    layer = _layer(latent_dim=4, tents="overlapping", kernel="linear_mean").double().eval()
    x = torch.randn(2, 6, 5, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp)[0], (x,), eps=1e-6, atol=1e-5)
    assert "tents='overlapping'" in repr(layer)


def test_one_overlapping_mean_bin_is_the_temporal_mean():
    # B = 1 with overlapping tents and mean bins: every slice has weight 1 in the one bin, so SGS
    # is a fixed T:1 average (the limit the benchmark's B = 4 -> 2 rows move towards).
    layer = _layer(num_bins=1, tents="overlapping", kernel="linear_mean").double()
    x = torch.randn(3, 6, 8, 2, 2, dtype=torch.float64)
    for mode in (layer.train, layer.eval):
        mode()
        y, active = layer(x)
        assert active.tolist() == [1, 1, 1]
        torch.testing.assert_close(y, x.mean(dim=2, keepdim=True))


def test_overlapping_tents_refuse_reference_mode():
    with pytest.raises(ValueError, match="needs mode='default', got mode='reference'"):
        _layer(tents="overlapping", mode="reference")


def test_gradient_reaches_embedding():
    layer = _layer()
    y, _ = layer(torch.randn(4, 6, 8, 3, 3))
    y.square().sum().backward()
    assert layer.embed[0].weight.grad is not None and layer.embed[0].weight.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="distance must be one of"):
        SimilarityGuidedSampling(in_channels=4, distance="cos")
    with pytest.raises(ValueError, match="num_bins must be None"):
        SimilarityGuidedSampling(in_channels=4, num_bins=0)
    with pytest.raises(ValueError, match=r"expects x of shape \(N, 4, T, H, W\)"):
        SimilarityGuidedSampling(in_channels=4)(torch.zeros(1, 3, 2, 2, 2))
