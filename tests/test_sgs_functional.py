"""The SGS functional core against a slow loop written from the spec, and hand-made cases."""

import pytest
import torch
from sgs_reference_loop import distances_loop, drop_loop, overlapping_weights_loop, sample_loop, weights_loop

from atfr_lightning.sgs import functional as F


@pytest.fixture(autouse=True)
def _float64_default():
    # Exact comparisons against the loop in float64; restored so other test files see float32.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("mode", ["reference", "default"])
@pytest.mark.parametrize("kind", ["l2_mean", "norm"])
def test_distances_match_loop(mode, kind):
    z = torch.randn(3, 8, 7, dtype=torch.float64)
    torch.testing.assert_close(F.temporal_distances(z, kind=kind, mode=mode), distances_loop(z, kind=kind, mode=mode))


@pytest.mark.parametrize("mode", ["reference", "default"])
@pytest.mark.parametrize("num_bins", [1, 4, 7, 12])
def test_weights_and_drop_match_loop(mode, num_bins):
    d = torch.rand(5, 7, dtype=torch.float64)
    w = F.bin_weights(d, num_bins, mode=mode)
    torch.testing.assert_close(w, weights_loop(d, num_bins, mode=mode))
    compact, active = F.drop_empty_bins(w)
    compact_loop, active_loop = drop_loop(w)
    torch.testing.assert_close(compact, compact_loop)
    assert active.tolist() == active_loop.tolist()


@pytest.mark.parametrize("num_bins", [1, 2, 4, 7])
def test_overlapping_tents_match_loop_and_keep_every_slice(num_bins):
    d = torch.rand(5, 9, dtype=torch.float64)
    d[1] = 0.0  # a static clip: every slice in the first bin
    w = F.bin_weights(d, num_bins, mode="default", tents="overlapping")
    torch.testing.assert_close(w, overlapping_weights_loop(d, num_bins))
    # Linear interpolation: every slice's weights sum to 1, so no slice is lost.
    torch.testing.assert_close(w.sum(dim=1), torch.ones(5, 9, dtype=torch.float64))
    _, active = F.drop_empty_bins(w)
    assert int(active[1]) == 1


def test_overlapping_tents_hand_made():
    # B = 3: u = 2 * d / max = [0, 0.5, 1.5, 2]: the extremes on the first and last centre with
    # weight 1, slice 1 split evenly between bins 0 and 1, slice 2 between bins 1 and 2. The
    # disjoint tents of the paper give slice 1 (u = 2, halfway between centres 1 and 3) weight 1e-7.
    d = torch.tensor([[0.0, 1.0, 3.0, 4.0]])
    expected = torch.tensor([[[1.0, 0.5, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.5, 1.0]]])
    torch.testing.assert_close(F.bin_weights(d, 3, mode="default", tents="overlapping"), expected)
    assert float(F.bin_weights(d, 3, mode="default")[0, :, 1].sum()) == pytest.approx(2e-7)


def test_overlapping_tents_need_default_mode():
    with pytest.raises(ValueError, match="tents='overlapping' goes beyond the released code and needs mode='default'"):
        F.bin_weights(torch.rand(1, 4), 2, mode="reference", tents="overlapping")
    with pytest.raises(ValueError, match=r"tents must be one of \('disjoint', 'overlapping'\), got 'wide'"):
        F.bin_weights(torch.rand(1, 4), 2, mode="default", tents="wide")


def test_gradcheck_overlapping_tents():
    z = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 6, 2, 2, dtype=torch.float64, requires_grad=True)

    def pipeline(z, x):
        d = F.temporal_distances(z, mode="default")
        w, _ = F.drop_empty_bins(F.average_bins(F.bin_weights(d, 3, mode="default", tents="overlapping")))
        return F.sample(x, w)

    assert torch.autograd.gradcheck(pipeline, (z, x))


def test_sample_matches_loop():
    x = torch.randn(2, 3, 5, 2, 3)
    w = torch.rand(2, 4, 5)
    torch.testing.assert_close(F.sample(x, w), sample_loop(x, w))


def test_reference_max_slice_lands_on_last_edge():
    # Reference quirk: u_max = 2B lands on the right edge of the last bin, weight ~1e-7.
    d = torch.tensor([[0.5, 1.0, 2.0, 4.0]])
    w = F.bin_weights(d, 4, mode="reference")
    # u = 8 * d / 4 = [1, 2, 4, 8]: slice 0 on centre 1 (bin 0), slice 1 on edge 2 (bins 0 and 1),
    # slice 2 on edge 4 (bins 1 and 2), slice 3 on edge 8 (bin 3 only).
    expected = torch.zeros(1, 4, 4)
    expected[0, 0, 0] = 1 + 1e-7
    expected[0, 0, 1] = expected[0, 1, 1] = 1e-7
    expected[0, 1, 2] = expected[0, 2, 2] = 1e-7
    expected[0, 3, 3] = 1e-7
    torch.testing.assert_close(w, expected, atol=1e-12, rtol=0)
    _, active = F.drop_empty_bins(w)
    assert active.tolist() == [4]


def test_default_maps_extremes_to_centres():
    d = torch.tensor([[0.0, 1.0, 3.0, 4.0]])
    w = F.bin_weights(d, 3, mode="default")
    # u = 1 + 4 * d / 4 = [1, 2, 4, 5]: min on the first centre, max on the last centre.
    assert w[0, 0, 0] == pytest.approx(1 + 1e-7)
    assert w[0, 2, 3] == pytest.approx(1 + 1e-7)


def test_zero_distance_and_static_clip():
    # A zero distance in the reference sits on the left edge of bin 0: weight 1e-7, still active.
    d = torch.tensor([[0.0, 2.0]])
    w = F.bin_weights(d, 2, mode="reference")
    assert w[0, 0, 0] == pytest.approx(1e-7)
    # A static clip: every slice identical.
    z = torch.ones(1, 8, 6) * 0.3
    for mode in ("reference", "default"):
        dist = F.temporal_distances(z, mode=mode)
        compact, active = F.drop_empty_bins(F.bin_weights(dist, 6, mode=mode))
        assert active.tolist() == [1]
        assert torch.isfinite(compact).all()
    # Default mode: the static clip's single bin holds every slice with weight 1.
    dist = F.temporal_distances(z, mode="default")
    compact, _ = F.drop_empty_bins(F.bin_weights(dist, 6, mode="default"))
    torch.testing.assert_close(compact, torch.full((1, 1, 6), 1 + 1e-7))


def test_known_answer_three_motion_levels():
    # Embeddings 0, 0, 1, 1, 2, 2 along one axis: the mean is 1, distances [1, 1, 0, 0, 1, 1].
    # Default mode, B = 6: u = 1 + 10 d = [11, 11, 1, 1, 11, 11] -> bins 5 and 0, two active bins,
    # ordered by bin: first the still middle (slices 2, 3), then the four outer slices.
    z = torch.zeros(1, 8, 6)
    z[0, 0] = torch.tensor([0.0, 0.0, 1.0, 1.0, 2.0, 2.0])
    x = torch.arange(6.0).view(1, 1, 6, 1, 1)
    d = F.temporal_distances(z, mode="default")
    compact, active = F.drop_empty_bins(F.bin_weights(d, 6, mode="default"))
    assert active.tolist() == [2]
    y = F.sample(x, compact).flatten()
    torch.testing.assert_close(y, torch.tensor([2.0 + 3.0, 0.0 + 1.0 + 4.0 + 5.0]) * (1 + 1e-7))


def test_ties_and_bin_order():
    # Ties land in the same bin; compaction keeps bin (similarity) order, not time order.
    d = torch.tensor([[4.0, 0.0, 4.0, 2.0]])
    compact, active = F.drop_empty_bins(F.bin_weights(d, 4, mode="default"))
    # u = 1 + 6 d / 4 = [7, 1, 7, 4]: bins 3, 0, 3 and the edge 4 (bins 1 and 2, weight 1e-7 each).
    assert active.tolist() == [4]
    assert compact[0, 0].argmax() == 1  # bin 0 holds slice 1
    torch.testing.assert_close(compact[0, 3], torch.tensor([1 + 1e-7, 0, 1 + 1e-7, 0]))


def test_normalized_kernel_divides_by_slice_count():
    w = torch.tensor([[[1.0, 0.5, 0.0], [0.0, 0.0, 2.0]]])
    torch.testing.assert_close(F.normalize_bins(w), torch.tensor([[[0.5, 0.25, 0.0], [0.0, 0.0, 2.0]]]))


def test_mean_kernel_is_a_weighted_mean_of_the_bin_slices():
    w = torch.tensor([[[1.0, 0.5, 0.0], [0.0, 0.0, 0.25], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    expected = torch.tensor([[[2 / 3, 1 / 3, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    torch.testing.assert_close(F.average_bins(w), expected)
    # A bin of identical slices returns that slice, whatever their weights and number: the scale
    # of one slice, as a fixed temporal average gives.
    x = torch.full((1, 2, 3, 1, 1), 3.0, dtype=torch.float64)
    compact, active = F.drop_empty_bins(F.average_bins(w))
    assert active.tolist() == [2]
    torch.testing.assert_close(F.sample(x, compact), torch.full((1, 2, 2, 1, 1), 3.0, dtype=torch.float64))


def test_gradcheck_mean_kernel():
    z = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 3, 6, 2, 2, dtype=torch.float64, requires_grad=True)

    def pipeline(z, x):
        d = F.temporal_distances(z, mode="default")
        w, _ = F.drop_empty_bins(F.average_bins(F.bin_weights(d, 3, mode="default")))
        return F.sample(x, w)

    assert torch.autograd.gradcheck(pipeline, (z, x))


def test_gradcheck_functional_core():
    z = torch.randn(2, 4, 5, requires_grad=True)
    x = torch.randn(2, 3, 5, 2, 2, requires_grad=True)

    def pipeline(z, x):
        d = F.temporal_distances(z, mode="default")
        w, _ = F.drop_empty_bins(F.bin_weights(d, 5, mode="default"))
        return F.sample(x, w)

    assert torch.autograd.gradcheck(pipeline, (z, x), eps=1e-7, atol=1e-5)
    assert torch.autograd.gradcheck(lambda z: F.temporal_distances(z, mode="reference"), (z,))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.temporal_distances(torch.zeros(2, 3)), "(N, L, T)"),
        (lambda: F.temporal_distances(torch.zeros(1, 2, 3), kind="cosine"), "kind must be one of"),
        (lambda: F.bin_weights(torch.zeros(1, 3), 0), "num_bins must be >= 1"),
        (lambda: F.sample(torch.zeros(1, 2, 3, 1, 1), torch.zeros(1, 2, 4)), "weights must have shape"),
    ],
)
def test_bad_input_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_order_bins_by_time_matches_loop():
    torch.manual_seed(3)
    w = F.bin_weights(torch.rand(4, 9), 9, mode="default")
    ordered = F.order_bins_by_time(w)
    for n in range(4):
        rows = [w[n, b] for b in range(9) if float(w[n, b].sum()) != 0]
        centres = [float((r * torch.arange(9.0)).sum() / r.sum()) for r in rows]
        expected = [rows[i] for i in sorted(range(len(rows)), key=lambda i: centres[i])]
        for j, row in enumerate(expected):
            torch.testing.assert_close(ordered[n, j], row)
        assert float(ordered[n, len(rows) :].abs().sum()) == 0
