"""The Similarity Guided Sampling layer (Fayyaz et al., CVPR 2021) as an nn.Module."""

from __future__ import annotations

import torch
from torch import nn

from atfr_lightning.sgs import functional as F_sgs


class SimilarityGuidedSampling(nn.Module):
    """Group similar temporal slices into bins; each clip keeps only its active bins.

    ::

        x (N, C, T, H, W) -> mean over H, W -> (N, T, C)
          -> Linear(C, C/2) -> ReLU -> Linear(C/2, L) -> BatchNorm1d(L) -> z (N, L, T)
          -> delta (N, T) -> tent kernels (N, B, T) -> drop empty bins (N, B'max, T)
          -> weighted sum of slices -> y (N, C, B'max, H, W)

    Args:
        in_channels: C.
        num_bins: B; ``None`` means B = T of the input (every released configuration).
        latent_dim: L, the embedding size (8 in the paper).
        distance: ``"l2_mean"`` (distance to the clip's mean embedding, the released code) or
            ``"norm"`` (norm of the embedding, the paper text).
        kernel: ``"linear"`` (a bin is the weighted sum of its slices) or ``"linear_normalized"``
            (divided by the number of slices in the bin) or ``"linear_mean"`` (divided by the
            sum of its weights: a weighted mean, on the scale of one slice; beyond the paper).
        mode: ``"default"`` (quirks fixed) or ``"reference"`` (the authors' code exactly).
        order: order of the active bins on the output's temporal axis: ``"similarity"`` (bin
            order, the reference) or ``"time"`` (by the mean time of each bin's slices).
        tents: ``"disjoint"`` (the paper: a slice between two bin centres loses weight, one
            halfway gets none) or ``"overlapping"`` (beyond the paper, default mode only: each
            slice's weight is split between its two nearest bins and sums to 1).

    Forward returns ``(y, active_bins)``: y (N, C, B'max, H, W), zero past each clip's B';
    active_bins (N,) int64. The counts of the last call are also kept in
    ``self.last_active_bins`` so callers that only see logits can log them.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_bins: int | None = None,
        latent_dim: int = 8,
        distance: str = "l2_mean",
        kernel: str = "linear",
        mode: str = "default",
        order: str = "similarity",
        tents: str = "disjoint",
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        if num_bins is not None and num_bins < 1:
            raise ValueError(f"num_bins must be None (= T) or >= 1, got {num_bins}")
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        F_sgs._check_choice("distance", distance, F_sgs.DISTANCES)
        F_sgs._check_choice("kernel", kernel, F_sgs.KERNELS)
        F_sgs._check_choice("mode", mode, F_sgs.MODES)
        F_sgs._check_choice("order", order, F_sgs.ORDERS)
        F_sgs.check_tents(tents, mode)
        self.order = order
        self.tents = tents
        self.in_channels = in_channels
        self.num_bins = num_bins
        self.latent_dim = latent_dim
        self.distance = distance
        self.kernel = kernel
        self.mode = mode
        hidden = max(in_channels // 2, 1)
        self.embed = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, latent_dim)
        )
        self.norm = nn.BatchNorm1d(latent_dim)
        self.last_active_bins: torch.Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The released configs initialise every Linear N(0, 0.01) with zero bias.
        for module in self.embed:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
        self.norm.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_bins={self.num_bins}, latent_dim={self.latent_dim}, "
            f"distance={self.distance!r}, kernel={self.kernel!r}, mode={self.mode!r}, order={self.order!r}, tents={self.tents!r}"
        )

    def kernel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Compact kernel weights (N, B'max, T) and, as a side effect, ``last_active_bins``."""
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SimilarityGuidedSampling expects x of shape (N, {self.in_channels}, T, H, W), "
                f"got {tuple(x.shape)}"
            )
        pooled = x.mean(dim=(3, 4)).transpose(1, 2)  # (N, C, T) -> (N, T, C)
        z = self.norm(self.embed(pooled).transpose(1, 2))  # (N, T, L) -> (N, L, T)
        num_bins = self.num_bins or x.shape[2]
        # Distances and bin positions in float32 even under fp16/bf16 autocast: the bin a slice
        # falls into is decided by differences far below half precision.
        with torch.autocast(device_type=x.device.type, enabled=False):
            precise = z.to(torch.promote_types(z.dtype, torch.float32))  # float64 stays float64
            distances = F_sgs.temporal_distances(precise, kind=self.distance, mode=self.mode)
            weights = F_sgs.bin_weights(distances, num_bins, mode=self.mode, tents=self.tents)
            if self.kernel == "linear_normalized":
                weights = F_sgs.normalize_bins(weights)
            elif self.kernel == "linear_mean":
                weights = F_sgs.average_bins(weights)
            if self.order == "time":
                weights = F_sgs.order_bins_by_time(weights)
            compact, active_bins = F_sgs.drop_empty_bins(weights)
        self.last_active_bins = active_bins.detach()
        return compact

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        compact = self.kernel_weights(x)
        return F_sgs.sample(x, compact), self.last_active_bins
