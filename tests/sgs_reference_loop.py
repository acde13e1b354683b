"""An independent, deliberately slow implementation of SGS written from the spec.

Plain Python loops over clips, bins and slices; used only by the tests.
"""

from __future__ import annotations

import math

import torch


def distances_loop(z: torch.Tensor, *, kind: str, mode: str) -> torch.Tensor:
    n_clips, latent, steps = z.shape
    out = torch.zeros(n_clips, steps, dtype=z.dtype)
    for n in range(n_clips):
        mean = [sum(float(z[n, dim, t]) for t in range(steps)) / steps for dim in range(latent)]
        for t in range(steps):
            if kind == "l2_mean":
                comps = [mean[dim] - float(z[n, dim, t]) for dim in range(latent)]
            else:
                comps = [float(z[n, dim, t]) for dim in range(latent)]
            if mode == "reference":
                out[n, t] = math.sqrt(sum((c + 1e-6) ** 2 for c in comps))
            else:
                out[n, t] = math.sqrt(sum(c * c for c in comps))
    return out


def weights_loop(distances: torch.Tensor, num_bins: int, *, mode: str) -> torch.Tensor:
    n_clips, steps = distances.shape
    out = torch.zeros(n_clips, num_bins, steps, dtype=distances.dtype)
    for n in range(n_clips):
        dmax = max(float(d) for d in distances[n])
        for t in range(steps):
            d = float(distances[n, t])
            if mode == "reference":
                u = 2 * num_bins * d / dmax
            else:
                u = 1.0 if dmax < 1e-6 else 1 + (2 * num_bins - 2) * d / dmax
            for b in range(num_bins):
                out[n, b, t] = max(0.0, 1 + 1e-7 - abs(u - (2 * b + 1)))
    return out


def overlapping_weights_loop(distances: torch.Tensor, num_bins: int) -> torch.Tensor:
    """``tents="overlapping"`` from its definition: u in [0, B - 1], linear interpolation between bins."""
    n_clips, steps = distances.shape
    out = torch.zeros(n_clips, num_bins, steps, dtype=distances.dtype)
    for n in range(n_clips):
        dmax = max(float(d) for d in distances[n])
        for t in range(steps):
            u = 0.0 if dmax < 1e-6 else (num_bins - 1) * float(distances[n, t]) / dmax
            low = min(int(u), num_bins - 1)  # the bin at or below u
            out[n, low, t] = 1 - (u - low)
            if low + 1 < num_bins:
                out[n, low + 1, t] = u - low
    return out


def drop_loop(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n_clips, num_bins, steps = weights.shape
    rows = []
    for n in range(n_clips):
        rows.append([weights[n, b] for b in range(num_bins) if float(weights[n, b].sum()) != 0.0])
    width = max(len(r) for r in rows)
    out = torch.zeros(n_clips, width, steps, dtype=weights.dtype)
    for n, r in enumerate(rows):
        for j, row in enumerate(r):
            out[n, j] = row
    return out, torch.tensor([len(r) for r in rows])


def sample_loop(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    n_clips, channels, steps, height, width = x.shape
    out = torch.zeros(n_clips, channels, weights.shape[1], height, width, dtype=x.dtype)
    for n in range(n_clips):
        for b in range(weights.shape[1]):
            for t in range(steps):
                out[n, :, b] += weights[n, b, t] * x[n, :, t]
    return out
