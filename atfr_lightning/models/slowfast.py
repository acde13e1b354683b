"""SlowFast with one SGS layer per pathway, each with its own B'.

Where the pathways meet: after every stage, SlowFast's lateral connection convolves the Fast
pathway with a temporal stride alpha and concatenates the result to the Slow pathway, which
needs both to have the same temporal length. After SGS the Slow pathway keeps B'_slow bins and
the Fast pathway B'_fast bins, chosen independently, so the lateral has ceil(B'_fast / alpha)
slices where the Slow pathway has B'_slow. We keep the builder's lateral convolution as it is
(same weights, same stride, so its cost still scales with B'_fast) and resample its output to
B'_slow slices with an adaptive average over time (:mod:`atfr_lightning.models.temporal_resample`):

* at full length (no bin dropped) the lengths agree and the resampling is the identity, so
  pretrained weights see exactly the tensors they were trained on;
* it adds no parameters and no counted FLOPs (a pool), and works for any pair of lengths;
* SGS bins are ordered by similarity rank, not time (``sgs_order="time"`` restores time order),
  so there is no exact slice-to-slice correspondence to preserve; an order-preserving average
  maps the k-th fraction of one pathway's bins onto the k-th fraction of the other's;
* every clip is resampled from its own valid lengths, so masked and grouped execution stay
  exact (a clip's logits never depend on its batch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork, bucket_keys, padding_waste, run_grouped, take_rows
from atfr_lightning.models.masking import StridedTemporalMask, TemporalMask, attach_temporal_mask
from atfr_lightning.models.packing import PackedLengths, pack, unpack
from atfr_lightning.models.pooling import make_temporal_pools_adaptive
from atfr_lightning.models.registered import RegisteredNetwork, StageCut
from atfr_lightning.models.surgery import pop_final_activation, stage_output_channels
from atfr_lightning.models.temporal_padding import use_replicate_temporal_padding
from atfr_lightning.models.temporal_resample import resample_time
from atfr_lightning.sgs import SimilarityGuidedSampling

PATHWAYS = ("slow", "fast")


def pack_pathways(x: torch.Tensor, *, alpha: int) -> list[torch.Tensor]:
    """(N, 3, T, H, W) -> [slow (N, 3, T // alpha, H, W), fast (N, 3, T, H, W)].

    The Slow pathway takes T // alpha frames spread evenly over the clip, as PySlowFast's and
    PyTorchVideo's ``PackPathway`` do.
    """
    steps = x.shape[2]
    index = torch.linspace(0, steps - 1, max(steps // alpha, 1), device=x.device).long()
    return [x.index_select(2, index), x]


class LengthMatchingFusion(nn.Module):
    """Fast-to-slow lateral connection for pathways with unrelated temporal lengths.

    ::

        slow (N, Cs, Ls, H, W), fast (N, Cf, Lf, H, W)
          fast -> conv (kernel k, stride alpha) -> BN -> ReLU -> (N, Cl, ceil(Lf / alpha), H, W)
               -> adaptive average over time -> (N, Cl, Ls, H, W)
          -> [cat(slow, lateral) (N, Cs + Cl, Ls, H, W), fast]

    Keeps the attribute names of PyTorchVideo's ``FuseFastToSlow`` (so state dicts load) and,
    unlike it, never changes the list it is given.
    """

    def __init__(
        self,
        *,
        conv_fast_to_slow: nn.Module,
        norm: nn.Module | None,
        activation: nn.Module | None,
        slow_mask: TemporalMask,
        lateral_mask: TemporalMask,
    ) -> None:
        super().__init__()
        self.conv_fast_to_slow = conv_fast_to_slow
        self.norm = norm
        self.activation = activation
        self.slow_mask = slow_mask
        self.lateral_mask = lateral_mask

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = x[0], x[1]
        lateral = self.conv_fast_to_slow(fast)
        if self.norm is not None:
            lateral = self.norm(lateral)
        if self.activation is not None:
            lateral = self.activation(lateral)
        slow_rows = self.slow_mask.packed_state()
        if slow_rows is not None:
            # Packed rows: unpack the lateral, resample it per clip as below, pack it like the Slow rows.
            lateral_rows, slow_lengths = self.lateral_mask.packed_state(), slow_rows.of(slow)
            lateral_lengths = lateral_rows.of(lateral)
            dense = unpack(lateral, lateral_lengths, int(lateral_lengths.max()))
            dense = resample_time(dense, int(slow_lengths.max()), src_lengths=lateral_lengths, dst_lengths=slow_lengths)
            return [torch.cat([slow, pack(dense, slow_lengths)], dim=1), fast]
        if self.slow_mask.active() or self.lateral_mask.active():
            # Per clip, from its own valid lateral slices to its own valid Slow slices.
            lateral = resample_time(
                lateral,
                slow.shape[2],
                src_lengths=self._lengths(self.lateral_mask, lateral),
                dst_lengths=self._lengths(self.slow_mask, slow),
            )
        else:
            lateral = resample_time(lateral, slow.shape[2])
        return [torch.cat([slow, lateral], dim=1), fast]

    @staticmethod
    def _lengths(mask: TemporalMask, x: torch.Tensor) -> torch.Tensor:
        if mask.active():
            return mask.lengths_for(x.shape[2])
        return torch.full((x.shape[0],), x.shape[2], dtype=torch.long, device=x.device)


class SlowFastSGSNetwork(RegisteredNetwork):
    """A registered SlowFast backbone with one SGS layer per pathway.

    ::

        x (N, 3, T, H, W) -> slow (N, 3, T/alpha, H, W), fast (N, 3, T, H, W)
          -> blocks[:k] -> stage k's two pathways -> (N, Cs, Ts, h, w), (N, Cf, Tf, h, w)
          -> sgs_slow, sgs_fast -> (N, Cs, B'_slow, h, w), (N, Cf, B'_fast, h, w) -> ReLU
          -> stage k's lateral fusion (resampled to B'_slow) -> blocks[k+1:]
          -> per group of clips sharing B'_slow (Fast pathway masked) -> logits (N, K)

    The arguments are :class:`~atfr_lightning.models.registered.RegisteredNetwork`'s, as for
    :class:`~atfr_lightning.models.SGSNetwork` (which refuses ``slowfast_*`` backbones;
    :func:`~atfr_lightning.models.build_network` picks the class). Differences: ``forward_features`` returns lists
    ``[slow, fast]`` of features and of active bins; ``sgs_layers()`` returns ``sgs_slow`` and
    ``sgs_fast``; the state dict holds ``sgs.slow.*`` and ``sgs.fast.*``; ``num_bins`` (B of
    the Slow pathway) gives the Fast pathway ``alpha * num_bins`` (``None``: each pathway's T).
    See the module docstring for how the lateral connections handle unequal lengths.
    ``temporal_padding="replicate"`` covers both pathways and the lateral connections before
    SGS (stage k's own lateral runs after SGS and keeps zero padding); ``temporal_average`` must
    stay 1 (a fixed reduction of two pathways is not implemented).
    """

    families = ("slowfast",)

    def _assemble(self, cut: StageCut) -> None:
        spec, blocks, index, sgs_options = cut.spec, cut.blocks, cut.index, cut.sgs_options
        if self.temporal_average != 1:
            raise ValueError(
                f"temporal_average is supported for single-pathway backbones, got temporal_average={self.temporal_average} "
                f"for {self.backbone_name!r}"
            )
        self.alpha = spec.alpha
        make_temporal_pools_adaptive(blocks[-2])  # PoolConcatPathway: one pool per pathway
        stage = blocks[index].multipathway_blocks
        if self.temporal_padding == "replicate":
            # Everything pre() runs: the earlier stages with their laterals, then stage k's pathways.
            use_replicate_temporal_padding(nn.ModuleList([*blocks[:index], stage]))
        layers, activations = None, [nn.Identity(), nn.Identity()]
        if sgs_options is not None:
            bins = {"slow": cut.num_bins, "fast": None if cut.num_bins is None else cut.num_bins * spec.alpha}
            layers = nn.ModuleDict({
                name: sgs_options.build(in_channels=stage_output_channels(stage[i]), num_bins=bins[name])
                for i, name in enumerate(PATHWAYS)
            })
            activations = [pop_final_activation(stage[i]) or nn.Identity() for i in range(2)]
        AdaptiveTemporalNetwork.__init__(self, blocks=blocks, insert_after=index, sgs=None, execution=cut.execution)
        self.sgs = layers
        self.activations = nn.ModuleList(activations)
        self.masks = {name: TemporalMask() for name in PATHWAYS}
        self._attach_masks()

    def _attach_masks(self) -> None:
        # Every layer after SGS belongs to one pathway, to a lateral connection, or to the head;
        # each gets the valid lengths of what it sees (this replaces the base class's one mask).
        slow, fast = self.masks["slow"], self.masks["fast"]
        for i, block in enumerate(self.blocks[self.insert_after :], start=self.insert_after):
            if hasattr(block, "multipathway_blocks"):
                if i > self.insert_after:  # stage k's own pathways run before SGS
                    attach_temporal_mask(block.multipathway_blocks[0], slow)
                    attach_temporal_mask(block.multipathway_blocks[1], fast)
                fusion = block.multipathway_fusion
                if hasattr(fusion, "conv_fast_to_slow"):
                    lateral = StridedTemporalMask(parent=fast, stride=fusion.conv_fast_to_slow.stride[0])
                    if fusion.norm is not None:
                        attach_temporal_mask(fusion.norm, lateral)
                    # It reads the Fast pathway across time: folded for inference, it zeroes that padding.
                    attach_temporal_mask(fusion.conv_fast_to_slow, fast)
                    block.multipathway_fusion = LengthMatchingFusion(
                        conv_fast_to_slow=fusion.conv_fast_to_slow, norm=fusion.norm,
                        activation=fusion.activation, slow_mask=slow, lateral_mask=lateral,
                    )
            elif hasattr(block, "pool") and isinstance(block.pool, nn.ModuleList):  # PoolConcatPathway
                attach_temporal_mask(block.pool[0], slow)
                attach_temporal_mask(block.pool[1], fast)

    def pre(self, x: torch.Tensor) -> list[torch.Tensor]:
        paths = pack_pathways(x, alpha=self.alpha)
        for block in self.blocks[: self.insert_after]:
            paths = block(list(paths))  # a fresh list: PyTorchVideo's fusion rewrites its input
        stage = self.blocks[self.insert_after].multipathway_blocks
        return [stage[i](paths[i]) for i in range(2)]

    def post(self, features: list[torch.Tensor]) -> torch.Tensor:
        fusion = self.blocks[self.insert_after].multipathway_fusion
        paths: Any = fusion(list(features)) if fusion is not None else list(features)
        for block in self.blocks[self.insert_after + 1 :]:
            paths = block(list(paths) if isinstance(paths, list) else paths)
        return paths

    def input_requirements(self) -> dict:
        # The Slow pathway takes every alpha-th frame and the lateral connections stride by alpha:
        # any other T leaves the two pathways with lengths the fusion cannot join.
        return {"crop_size": self.crop_size, "min_frames": self.alpha, "frame_multiple": self.alpha}

    def sgs_layers(self) -> dict[str, SimilarityGuidedSampling]:
        """``{"sgs_slow": ..., "sgs_fast": ...}`` (empty without SGS)."""
        return {f"sgs_{name}": self.sgs[name] for name in PATHWAYS} if self.sgs is not None else {}

    def forward_features(
        self, x: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Input clips -> ([slow, fast] features after SGS and ReLU, [slow, fast] active bins or None)."""
        features = self.pre(x)
        if self.sgs is None or not self.sgs_enabled:
            for layer in self.sgs_layers().values():
                layer.last_active_bins = None  # bypassed (warm start): no bins this pass
            return [act(f) for act, f in zip(self.activations, features)], None
        sampled, active = [], []
        for name, act, f in zip(PATHWAYS, self.activations, features):
            y, bins = self.sgs[name](f)
            sampled.append(act(y))
            active.append(bins)
        return sampled, active

    def _masked_post_pathways(self, features: list[torch.Tensor], active_bins: list[torch.Tensor]) -> torch.Tensor:
        for name, f, bins in zip(PATHWAYS, features, active_bins):
            self.masks[name].lengths, self.masks[name].steps = bins, f.shape[2]
        try:
            # Zero the padding (SGS already does): the lateral convolution and the Fast
            # pathway's temporal convolutions right after SGS then read zeros past a clip's end.
            return self.post([f * self.masks[name].mask_for(f) for name, f in zip(PATHWAYS, features)])
        finally:
            for mask in self.masks.values():
                mask.lengths = None

    def _packed_post_pathways(self, features: list[torch.Tensor], active_bins: list[torch.Tensor]) -> torch.Tensor:
        counts = [int(b.max()) for b in active_bins]
        if all(bool((b == c).all()) for b, c in zip(active_bins, counts)):  # one length per pathway
            return self.post([f[:, :, :c] for f, c in zip(features, counts)])
        for name, f, bins in zip(PATHWAYS, features, active_bins):
            mask = self.masks[name]
            mask.lengths, mask.steps = bins, f.shape[2]
            mask.packed = PackedLengths(bins.to(f.device))
        try:
            return self.post([pack(f, bins) for f, bins in zip(features, active_bins)])
        finally:
            for mask in self.masks.values():
                mask.lengths, mask.packed = None, None

    def _padding_waste(self, active_bins: list[torch.Tensor]) -> float:
        # The Slow pathway holds most of the cost after SGS (the Fast one has 1/beta of its
        # channels): its padding decides whether packing pays.
        return padding_waste(active_bins[0])

    def forward_post(self, features: list[torch.Tensor], active_bins: list[torch.Tensor] | None) -> torch.Tensor:
        """Run the layers after SGS: packed, bucketed, grouped by B'_slow (Fast pathway masked), masked, or padded."""
        execution = self.resolved_execution() if active_bins is None else self.execution_for(active_bins)
        self.last_execution = execution
        if active_bins is None or execution == "padded":
            return self.post(features)
        if execution == "masked":
            return self._masked_post_pathways(features, active_bins)
        if execution == "packed":
            return self._packed_post_pathways(features, active_bins)
        if execution == "bucketed":
            # Buckets of close B'_slow, each one masked pass padded to its largest B'_slow and B'_fast.
            slow, fast = features

            def run_bucket(key: int, rows: torch.Tensor | None) -> torch.Tensor:
                bins = [take_rows(b, rows) for b in active_bins]
                counts = [int(b.max()) for b in bins]
                part = [take_rows(slow, rows)[:, :, : counts[0]], take_rows(fast, rows)[:, :, : counts[1]]]
                if all(bool((b == c).all()) for b, c in zip(bins, counts)):
                    return self.post(part)
                return self._masked_post_pathways(part, bins)

            return run_grouped(bucket_keys(active_bins[0].tolist()), run_bucket, device=slow.device)
        # Grouping by the (B'_slow, B'_fast) pair would run the layers after SGS almost once per
        # clip. Group by B'_slow only (the Slow pathway holds most of the cost) and run the Fast
        # pathway masked within a group, padded to the group's largest B'_fast: still exact.
        slow, fast = features
        slow_bins, fast_bins = active_bins
        fast_mask = self.masks["fast"]

        def run(count: int, rows: torch.Tensor | None) -> torch.Tensor:
            group_fast_bins = take_rows(fast_bins, rows)
            steps = int(group_fast_bins.max())
            group = [take_rows(slow, rows)[:, :, :count], take_rows(fast, rows)[:, :, :steps]]
            if bool((group_fast_bins == steps).all()):
                return self.post(group)
            fast_mask.lengths, fast_mask.steps = group_fast_bins, steps
            try:
                return self.post([group[0], group[1] * fast_mask.mask_for(group[1])])
            finally:
                fast_mask.lengths = None

        return run_grouped(slow_bins.tolist(), run, device=slow.device)
