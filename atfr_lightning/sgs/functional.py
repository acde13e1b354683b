"""Functional core of Similarity Guided Sampling (SGS), pure torch.

Shapes: N clips, L embedding dims, T temporal slices, B bins, B' active bins, C channels.

Two modes:

* ``"reference"`` reproduces the authors' released code, quirks included: the epsilon is added
  to each component of ``mean_t(z) - z_t`` before the norm, distances are scaled by
  ``2B / max_t(delta)`` (so the most distinctive slice lands on the right edge of the last bin
  with a weight of ~1e-7), and a clip whose slices are all identical divides by ~0.
* ``"default"`` fixes those quirks: distances are mapped affinely onto ``[1, 2B - 1]``, from
  the centre of the first bin to the centre of the last, so the most distinctive slice gets
  weight 1; an all-identical clip (max distance below ``1e-6``) maps every slice to the first
  bin, giving exactly one active bin; nothing divides by zero.

See ``docs/sgs.md`` for the equations.
"""

from __future__ import annotations

import torch

MODES = ("reference", "default")
DISTANCES = ("l2_mean", "norm")
KERNELS = ("linear", "linear_normalized", "linear_mean")
ORDERS = ("similarity", "time")
TENTS = ("disjoint", "overlapping")

# The reference adds 1e-6 to each component of the difference before the norm, and 1e-7 to
# the tent so that a slice exactly on a bin edge still counts as (barely) present.
_REFERENCE_NORM_EPS = 1e-6
_TENT_EPS = 1e-7
# Below this max distance a clip is treated as static in the default mode.
_STATIC_EPS = 1e-6


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_tents(tents: str, mode: str) -> None:
    """``tents`` must be known, and ``"overlapping"`` (beyond the released code) needs the default mode."""
    _check_choice("tents", tents, TENTS)
    if tents == "overlapping" and mode != "default":
        raise ValueError(
            f"tents='overlapping' goes beyond the released code and needs mode='default', got mode={mode!r}"
        )


def temporal_distances(z: torch.Tensor, *, kind: str = "l2_mean", mode: str = "reference") -> torch.Tensor:
    """Per-slice scalar delta_t of a clip's embeddings.

    Args:
        z: embeddings, (N, L, T).
        kind: ``"l2_mean"`` (distance of each slice from the clip's temporal mean, the
            released code) or ``"norm"`` (the norm of each slice's embedding, the paper text).
        mode: ``"reference"`` or ``"default"`` (see the module docstring).

    Returns:
        (N, T) non-negative distances.
    """
    _check_choice("kind", kind, DISTANCES)
    _check_choice("mode", mode, MODES)
    if z.dim() != 3:
        raise ValueError(f"z must have shape (N, L, T), got a tensor of shape {tuple(z.shape)}")
    diff = z - z.mean(dim=2, keepdim=True) if kind == "l2_mean" else z
    if mode == "reference":
        if kind == "l2_mean":
            # The reference computes ||mean - z_t + eps||: note the sign and the eps placement.
            diff = -diff
        return torch.linalg.vector_norm(diff + _REFERENCE_NORM_EPS, dim=1)
    # sqrt(sum^2 + eps^2) - eps is 0 at 0 with a finite gradient there (plain norm gives NaN).
    eps = torch.finfo(diff.dtype).eps
    return torch.sqrt(diff.pow(2).sum(dim=1) + eps * eps) - eps


def bin_positions(distances: torch.Tensor, num_bins: int, *, mode: str = "reference") -> torch.Tensor:
    """Scale distances (N, T) to bin coordinates u (N, T) on [0, 2B] (bin b is centred at 2b+1)."""
    _check_choice("mode", mode, MODES)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    max_distance = distances.amax(dim=1, keepdim=True)
    if mode == "reference":
        return 2 * num_bins * distances / max_distance
    relative = distances / max_distance.clamp_min(_STATIC_EPS)
    # Static clips (max below the floor) collapse onto the first centre.
    relative = torch.where(max_distance < _STATIC_EPS, torch.zeros_like(relative), relative)
    return 1 + (2 * num_bins - 2) * relative


def bin_weights(
    distances: torch.Tensor, num_bins: int, *, mode: str = "reference", tents: str = "disjoint"
) -> torch.Tensor:
    """Tent-kernel weights of every slice in every bin, before empty bins are dropped.

    ``tents="disjoint"`` (the paper): K[n, b, t] = max(0, 1 + 1e-7 - |u[n, t] - (2b + 1)|) with
    u from :func:`bin_positions`; neighbouring tents do not overlap, so a slice halfway between
    two centres gets (almost) no weight in either bin and is lost to the layers after SGS.

    ``tents="overlapping"`` (beyond the paper, default mode only): distances map affinely onto
    u in [0, B - 1] (static clips onto 0), bin b is centred at b and K[n, b, t] = max(0,
    1 - |u[n, t] - b|): linear interpolation between the two nearest bins, so every slice's
    weights sum to exactly 1 and no slice is lost; the most and the least distinctive slices
    still get weight 1 in the last and the first bin.

    Args:
        distances: (N, T) from :func:`temporal_distances`.
        num_bins: B, the number of bins.
        mode: ``"reference"`` or ``"default"``.
        tents: ``"disjoint"`` or ``"overlapping"``.

    Returns:
        (N, B, T) kernel weights.
    """
    if distances.dim() != 2:
        raise ValueError(f"distances must have shape (N, T), got {tuple(distances.shape)}")
    check_tents(tents, mode)
    if tents == "overlapping":
        # [1, 2B - 1] with centres 2b + 1  ->  [0, B - 1] with centres b (static clips: 0).
        u = (bin_positions(distances, num_bins, mode=mode) - 1) / 2
        centres = torch.arange(num_bins, device=u.device, dtype=u.dtype)
        return (1 - (u.unsqueeze(1) - centres.view(1, -1, 1)).abs()).clamp_min(0)
    u = bin_positions(distances, num_bins, mode=mode)
    centres = 2 * torch.arange(num_bins, device=u.device, dtype=u.dtype) + 1
    # (N, 1, T) - (1, B, 1) -> (N, B, T)
    return (1 + _TENT_EPS - (u.unsqueeze(1) - centres.view(1, -1, 1)).abs()).clamp_min(0)


def normalize_bins(weights: torch.Tensor) -> torch.Tensor:
    """The ``linear_normalized`` kernel: divide each bin by its number of slices with weight > 0."""
    counts = (weights > 0).sum(dim=-1, keepdim=True).clamp_min(1)
    return weights / counts.to(weights.dtype)


def average_bins(weights: torch.Tensor) -> torch.Tensor:
    """The ``linear_mean`` kernel: divide each bin by the sum of its weights (a weighted mean).

    A bin then has the magnitude of one slice whatever it holds, like a fixed temporal average,
    so a network trained without SGS sees features on the scale it was trained on; the tent
    weights still decide how much each slice counts within its bin. Empty bins stay zero.
    """
    mass = weights.sum(dim=-1, keepdim=True)
    return weights / torch.where(mass > 0, mass, torch.ones_like(mass))


def order_bins_by_time(weights: torch.Tensor) -> torch.Tensor:
    """Reorder each clip's bins by the centre of mass in time of their slices (empty bins last).

    The reference keeps bins in bin order, i.e. by similarity rank, which discards temporal
    order; this option keeps it for tasks where order carries the label (direction of motion,
    Something-Something). The order is discrete: no gradient flows through it.

    Args:
        weights: (N, B, T).

    Returns:
        (N, B, T), the same rows permuted.
    """
    mass = weights.sum(dim=-1)  # (N, B)
    times = torch.arange(weights.shape[-1], device=weights.device, dtype=weights.dtype)
    centre = (weights * times).sum(dim=-1) / mass.clamp_min(torch.finfo(weights.dtype).tiny)
    key = torch.where(mass != 0, centre, torch.full_like(centre, float("inf"))).detach()
    order = torch.sort(key, dim=1, stable=True).indices
    return weights.gather(1, order.unsqueeze(-1).expand_as(weights))


def drop_empty_bins(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each clip's active bins to the front (in bin order) and cut to B'max.

    A bin is active when its row sums to a non-zero value.

    Args:
        weights: (N, B, T).

    Returns:
        ``(compact, active_bins)``: compact (N, B'max, T), zero past each clip's B'; active_bins
        (N,) int64.
    """
    if weights.dim() != 3:
        raise ValueError(f"weights must have shape (N, B, T), got {tuple(weights.shape)}")
    active = weights.sum(dim=-1) != 0  # (N, B)
    active_bins = active.sum(dim=1)
    max_active = int(active_bins.max()) if active_bins.numel() else 0
    # A stable sort of the "inactive" flags lists active bins first, each group in bin order.
    order = torch.sort((~active).to(torch.uint8), dim=1, stable=True).indices[:, :max_active]
    compact = weights.gather(1, order.unsqueeze(-1).expand(-1, -1, weights.shape[-1]))
    keep = torch.arange(max_active, device=weights.device).unsqueeze(0) < active_bins.unsqueeze(1)
    return compact * keep.unsqueeze(-1).to(compact.dtype), active_bins


def sample(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Y[n, :, b] = sum_t weights[n, b, t] * X[n, :, t].

    Args:
        x: features, (N, C, T, H, W).
        weights: (N, B', T).

    Returns:
        (N, C, B', H, W).
    """
    if x.dim() != 5:
        raise ValueError(f"x must have shape (N, C, T, H, W), got {tuple(x.shape)}")
    if weights.dim() != 3 or weights.shape[0] != x.shape[0] or weights.shape[2] != x.shape[2]:
        raise ValueError(
            f"weights must have shape (N, B', T) = ({x.shape[0]}, B', {x.shape[2]}) to match x of "
            f"shape {tuple(x.shape)}, got {tuple(weights.shape)}"
        )
    n, c, t, h, w = x.shape
    # (N, C, T, H, W) -> (N, T, C*H*W) so one bmm does every clip: (N, B', T) @ (N, T, CHW).
    flat = x.permute(0, 2, 1, 3, 4).reshape(n, t, c * h * w)
    out = torch.bmm(weights.to(x.dtype), flat)  # (N, B', C*H*W)
    return out.view(n, -1, c, h, w).permute(0, 2, 1, 3, 4)
