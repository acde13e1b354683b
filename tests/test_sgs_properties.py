"""Properties of the SGS functional core over random shapes, values, modes and B (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from atfr_lightning.sgs import functional as F

# Keep examples small (2 CPU cores): the point is the breadth of shapes and values, not size.
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def clips(draw):
    """(x (N, C, T, H, W), z (N, L, T)) in float64, with optional static clips and repeated slices."""
    n, c, t = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 9))
    h = w = draw(st.integers(1, 2))
    latent = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, h, w, generator=generator, dtype=torch.float64)
    z = scale * torch.randn(n, latent, t, generator=generator, dtype=torch.float64)
    if draw(st.booleans()):  # a static clip: every slice the same embedding
        z[0] = z[0, :, :1]
    if t > 2 and draw(st.booleans()):  # repeated slices, as in long holds
        z[:, :, 1] = z[:, :, 0]
    return x, z


modes = st.sampled_from(F.MODES)
distances_kinds = st.sampled_from(F.DISTANCES)
bins = st.integers(1, 10)


def _pipeline(x, z, *, num_bins, mode, kind, kernel="linear", order="similarity"):
    weights = F.bin_weights(F.temporal_distances(z, kind=kind, mode=mode), num_bins, mode=mode)
    if kernel == "linear_normalized":
        weights = F.normalize_bins(weights)
    elif kernel == "linear_mean":
        weights = F.average_bins(weights)
    if order == "time":
        weights = F.order_bins_by_time(weights)
    compact, active = F.drop_empty_bins(weights)
    return weights, compact, active, F.sample(x, compact)


def _original_and_shuffled(clip, rng, **options):
    """(active bins, output) of the clip and of the clip with its slices in a random order."""
    x, z = clip
    permutation = list(range(x.shape[2]))
    rng.shuffle(permutation)
    _, _, active, y = _pipeline(x, z, **options)
    _, _, active_shuffled, y_shuffled = _pipeline(x[:, :, permutation], z[:, :, permutation], **options)
    return (active, y), (active_shuffled, y_shuffled)


@SETTINGS
@given(clips(), bins, modes, distances_kinds, st.sampled_from(F.KERNELS), st.sampled_from(F.ORDERS))
def test_finite_outputs_and_between_one_and_b_active_bins(clip, num_bins, mode, kind, kernel, order):
    x, z = clip
    _, compact, active, y = _pipeline(x, z, num_bins=num_bins, mode=mode, kind=kind, kernel=kernel, order=order)
    assert torch.isfinite(compact).all() and torch.isfinite(y).all()
    assert ((active >= 1) & (active <= num_bins)).all()
    assert y.shape == (x.shape[0], x.shape[1], int(active.max()), x.shape[3], x.shape[4])


@SETTINGS
@given(clips(), bins, modes, distances_kinds)
def test_padding_rows_are_exactly_zero_and_compaction_removes_empty_rows(clip, num_bins, mode, kind):
    x, z = clip
    weights, compact, active, y = _pipeline(x, z, num_bins=num_bins, mode=mode, kind=kind)
    for i in range(x.shape[0]):
        kept = [row for row in weights[i] if row.sum() != 0]  # the slow way: drop empty rows, keep order
        assert len(kept) == int(active[i])
        assert torch.equal(compact[i, : len(kept)], torch.stack(kept))
        assert (compact[i, len(kept):] == 0).all()
        assert (y[i, :, len(kept):] == 0).all()


@SETTINGS
@given(clips(), bins, modes, distances_kinds, st.randoms(use_true_random=False))
def test_shuffling_the_input_slices_leaves_the_output_unchanged(clip, num_bins, mode, kind, rng):
    x, _ = clip
    (active, y), (active_shuffled, y_shuffled) = _original_and_shuffled(clip, rng, num_bins=num_bins, mode=mode,
                                                                          kind=kind)
    assert torch.equal(active, active_shuffled)
    # Bins come in similarity order, so the output is the same tensor, not only the same set.
    torch.testing.assert_close(y_shuffled, y, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(clips(), bins, modes, distances_kinds, st.randoms(use_true_random=False))
def test_with_bins_in_time_order_the_output_is_the_same_set_of_slices(clip, num_bins, mode, kind, rng):
    x, _ = clip
    (active, y), (_, y_shuffled) = _original_and_shuffled(clip, rng, num_bins=num_bins, mode=mode, kind=kind,
                                                          order="time")

    def as_set(tensor, i):
        count = int(active[i])
        flat = tensor[i, :, :count].reshape(x.shape[1], count, -1).transpose(0, 1).reshape(count, -1)
        return flat[torch.argsort(flat[:, 0] + 1e-3 * flat.sum(dim=1))]

    for i in range(x.shape[0]):
        torch.testing.assert_close(as_set(y_shuffled, i), as_set(y, i), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 9), bins, st.floats(1e-3, 1e3))
def test_reference_weights_ignore_a_positive_scale_of_a_clips_distances(n, t, num_bins, factor):
    distances = torch.rand(n, t, dtype=torch.float64) + 1e-3
    torch.testing.assert_close(
        F.bin_weights(distances * factor, num_bins, mode="reference"),
        F.bin_weights(distances, num_bins, mode="reference"), rtol=1e-9, atol=1e-9,
    )


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 9), bins, st.floats(1e-2, 1e3))
def test_default_weights_ignore_a_scale_above_the_static_floor(n, t, num_bins, factor):
    distances = torch.rand(n, t, dtype=torch.float64) + 1e-2  # max distance stays above 1e-6 when scaled
    torch.testing.assert_close(
        F.bin_weights(distances * factor, num_bins, mode="default"),
        F.bin_weights(distances, num_bins, mode="default"), rtol=1e-9, atol=1e-9,
    )


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), bins, distances_kinds)
def test_default_mode_gives_a_static_clip_exactly_one_bin(n, latent, t, num_bins, kind):
    z = torch.randn(n, latent, 1, dtype=torch.float64).expand(n, latent, t)
    if kind == "norm":  # a static clip under the norm distance: the same embedding everywhere
        z = z.clone()
    weights = F.bin_weights(F.temporal_distances(z, kind=kind, mode="default"), num_bins, mode="default")
    _, active = F.drop_empty_bins(weights)
    assert (active == 1).all()
