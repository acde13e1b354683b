"""A backbone cut in two around an SGS layer, run so that every clip is exact."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from torch import nn

from atfr_lightning.models.input_check import check_clip
from atfr_lightning.models.masking import MaskedTemporalConv3d, TemporalMask, attach_temporal_mask
from atfr_lightning.models.packing import PackedLengths, pack
from atfr_lightning.sgs import SimilarityGuidedSampling

EXECUTIONS = ("exact", "packed", "bucketed", "grouped", "masked", "padded")
# Bucketed execution merges clips of close B' into one masked pass while the padding it adds stays
# below this fraction of the bucket's valid slices (measured on CPU: fewer passes beat less padding).
BUCKET_WASTE = 0.5
# ``exact`` in evaluation packs a batch only when padding every clip to the longest would waste
# more than this fraction of the padded slices, and only where the layers after SGS have no
# grouped (depthwise) temporal convolution: packed, each of those goes back to padded clips and
# is packed again, which costs more than the padding saves. Measured with
# benchmarks/execution_choice.py (2 CPU cores, 64^2, batch 8, post-SGS time, packed over masked):
# X3D-S 1.14-1.36 at every padding from 4 % to 39 %; Slow-R50 0.98 at 4 %, 0.93 at 14 %,
# 0.82-0.87 at 20-23 %, 0.62-0.68 at 38-39 %.
PACK_MIN_WASTE = 0.1


def padding_waste(lengths: torch.Tensor) -> float:
    """The fraction of slices that are padding when every clip is padded to the longest: 1 - sum(L) / (N max L)."""
    longest = int(lengths.max())
    return 1.0 - float(lengths.sum()) / (lengths.numel() * longest) if longest else 0.0


def bucket_keys(lengths: list[int], *, waste: float = BUCKET_WASTE) -> list[int]:
    """One bucket id per clip: sorted distinct lengths merged while padding <= ``waste`` x valid slices.

    Every clip of a bucket runs padded to the bucket's largest length (masked, so still exact).
    """
    counts: dict[int, int] = {}
    for length in lengths:
        counts[length] = counts.get(length, 0) + 1
    bucket_of: dict[int, int] = {}
    bucket, members = 0, []
    for length in sorted(counts):
        trial = [*members, length]
        valid = sum(counts[m] * m for m in trial)
        padding = sum(counts[m] * (length - m) for m in trial)
        if members and padding > waste * valid:
            bucket, trial = bucket + 1, [length]
        members = trial
        bucket_of[length] = bucket
    return [bucket_of[length] for length in lengths]


def run_grouped(
    keys: list[Hashable], run: Callable[[Hashable, torch.Tensor | None], torch.Tensor], *, device: torch.device
) -> torch.Tensor:
    """Run ``run(key, rows)`` once per distinct key on the rows holding it; outputs in row order.

    ``keys`` has one entry per clip (its B', or its (B'_slow, B'_fast) pair); ``rows`` is an
    int64 index tensor, or ``None`` for "all rows" when the whole batch shares one key (no copy).
    """
    groups = sorted(set(keys))
    if len(groups) == 1:
        return run(groups[0], None)
    outputs: list[torch.Tensor] = [None] * len(keys)  # type: ignore[list-item]
    for key in groups:
        index = torch.tensor([i for i, k in enumerate(keys) if k == key], device=device)
        out = run(key, index)
        for row, i in enumerate(index.tolist()):
            outputs[i] = out[row]
    return torch.stack(outputs)


def take_rows(x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    return x if rows is None else x.index_select(0, rows)


class AdaptiveTemporalNetwork(nn.Module):
    """``pre -> SGS -> activation -> post`` with a per-clip temporal length after SGS.

    ::

        x (N, 3, T, H, W) -> blocks[:k+1] -> (N, C, T, h, w) -> SGS -> (N, C, B'max, h, w)
          -> activation -> blocks[k+1:], per group of clips sharing B' -> logits (N, K)

    The backbone's blocks keep their PyTorchVideo names (``blocks.<i>.*``), so the builder's
    state dicts load unchanged; only ``sgs.*`` is new.

    How the layers after SGS run on clips with different B' (``execution``):

    * ``"grouped"``: once per distinct B', on exactly that many slices. No padding exists, so
      a clip's logits in evaluation do not depend on its batch, and later layers really cost
      B'/T. In training, batch norm sees each group separately.
    * ``"masked"``: one pass on the batch padded to B'max, with batch norm and global pools
      restricted to valid slices (see :mod:`atfr_lightning.models.masking`): every clip gets
      exactly its own-length result, and batch-norm statistics cover all valid slices of the
      batch. Costs B'max per clip.
    * ``"bucketed"``: clips of close B' share one masked pass padded to their bucket's largest B'
      (:func:`bucket_keys`): fewer, larger passes than ``"grouped"`` for a little padding;
      exact per clip like both.
    * ``"packed"``: in evaluation, one pass on the valid slices of all clips laid out as rows
      (:mod:`atfr_lightning.models.packing`): no padding and one pass per batch; exact per clip.
      Training runs ``"masked"``.
    * ``"exact"`` (default): ``"masked"`` in training (one fast batched pass, full-batch
      statistics); in evaluation whichever of ``"packed"`` and ``"masked"`` is cheaper for the
      batch (:meth:`execution_for`): packed where padding would be large and the temporal
      convolutions after SGS are dense. All are exact.
    * ``"padded"``: the reference behaviour, zero padding flows through everything (a clip's
      prediction depends on its batch); kept for parity studies.

    ``sgs_enabled`` (a run-time switch, not saved in checkpoints) bypasses SGS when False: the
    network then computes exactly the backbone (``pre -> activation -> post`` at full length).
    The warm-start recipe trains that way first and switches SGS on later (see
    :class:`atfr_lightning.lightning.VideoClassifier`'s ``sgs_start_epoch``).

    Args:
        blocks: the backbone's blocks, head last; the blocks after the insertion point must
            accept any temporal length.
        insert_after: index k of the block SGS follows.
        sgs: the SGS layer, or ``None`` for the plain backbone.
        activation: the final activation taken out of ``blocks[k]`` so SGS can sit before it
            (the reference puts SGS after the last residual sum and before its ReLU); ``None``
            when the block keeps it.
        execution: ``"exact"``, ``"grouped"``, ``"masked"`` or ``"padded"``.
    """

    def __init__(
        self,
        *,
        blocks: nn.ModuleList,
        insert_after: int,
        sgs: SimilarityGuidedSampling | None,
        activation: nn.Module | None = None,
        execution: str = "grouped",
    ) -> None:
        super().__init__()
        if execution not in EXECUTIONS:
            raise ValueError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
        if not 0 <= insert_after < len(blocks) - 1:
            raise ValueError(
                f"insert_after must index a block before the head (0..{len(blocks) - 2}), got {insert_after}"
            )
        self.blocks = blocks if isinstance(blocks, nn.ModuleList) else nn.ModuleList(blocks)
        self.insert_after = insert_after
        self.sgs = sgs
        self.activation = activation if activation is not None else nn.Identity()
        self.execution = execution
        self.sgs_enabled = True
        self.temporal_mask = TemporalMask()
        attach_temporal_mask(nn.ModuleList(self.blocks[insert_after + 1 :]), self.temporal_mask)

    def train(self, mode: bool = True) -> "AdaptiveTemporalNetwork":
        if mode and getattr(self, "folded_for_inference", False):
            raise RuntimeError(
                "this network has its batch norms folded for inference and cannot be trained; "
                "fold a copy (atfr_lightning.models.inference.folded_copy) and train the original"
            )
        return super().train(mode)

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[: self.insert_after + 1]:
            x = block(x)
        return x

    def post(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[self.insert_after + 1 :]:
            x = block(x)
        return x

    def sgs_layers(self) -> dict[str, SimilarityGuidedSampling]:
        """The SGS layers by name (empty without SGS)."""
        return {"sgs": self.sgs} if self.sgs is not None else {}

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Input clips -> (features after SGS and activation, active bins per clip or None)."""
        features = self.pre(x)
        if self.sgs is None:
            return self.activation(features), None
        if not self.sgs_enabled:
            # Bypassed: no bins this pass, so loggers must not read the last enabled pass's.
            for layer in self.sgs_layers().values():
                layer.last_active_bins = None
            return self.activation(features), None
        sampled, active_bins = self.sgs(features)
        return self.activation(sampled), active_bins

    def resolved_execution(self) -> str:
        """The scheme used now: ``"exact"`` resolves by training/evaluation mode."""
        if self.execution == "exact":
            return "masked" if self.training else "packed"
        if self.execution == "packed" and self.training:
            return "masked"
        return self.execution

    def execution_for(self, active_bins: list[torch.Tensor]) -> str:
        """The scheme this batch runs with (``active_bins``: one (N,) tensor per SGS layer).

        ``"exact"`` in evaluation chooses per batch: ``"packed"`` when padding to the longest clip
        would waste more than :data:`PACK_MIN_WASTE` of the slices and no temporal convolution
        after SGS is grouped; otherwise one ``"masked"`` pass. Clips of one length (no padding)
        stay ``"packed"``, which runs them as they are.
        """
        execution = self.resolved_execution()
        if self.execution != "exact" or execution != "packed":
            return execution
        if all(bool((bins == bins.max()).all()) for bins in active_bins):
            return "packed"
        if self._grouped_temporal_convolution_after_sgs() or self._padding_waste(active_bins) <= PACK_MIN_WASTE:
            return "masked"
        return "packed"

    def _padding_waste(self, active_bins: list[torch.Tensor]) -> float:
        return max(padding_waste(bins) for bins in active_bins)

    def _grouped_temporal_convolution_after_sgs(self) -> bool:
        if not hasattr(self, "_grouped_after_sgs"):  # the structure never changes: look once
            self._grouped_after_sgs = any(
                isinstance(m, MaskedTemporalConv3d) and m.groups > 1
                for m in self.blocks[self.insert_after + 1 :].modules()
            )
        return self._grouped_after_sgs

    def use_channels_last(self, enabled: bool = True) -> "AdaptiveTemporalNetwork":
        """Keep weights and input clips in the channels-last 3D layout (faster 3D convolutions on CPU)."""
        self.channels_last = enabled
        return self.to(memory_format=torch.channels_last_3d if enabled else torch.contiguous_format)

    def _masked_post(self, features: torch.Tensor, active_bins: torch.Tensor) -> torch.Tensor:
        self.temporal_mask.lengths, self.temporal_mask.steps = active_bins, features.shape[2]
        try:
            # Zero the padding (SGS already does): a temporal convolution right after SGS then
            # reads zeros past a clip's end, whatever the caller put there.
            return self.post(features * self.temporal_mask.mask_for(features))
        finally:
            self.temporal_mask.lengths = None

    def _packed_post(self, features: torch.Tensor, active_bins: torch.Tensor) -> torch.Tensor:
        count = int(active_bins.max())
        if bool((active_bins == count).all()):  # one length (batch 1, say): the clips as they are
            return self.post(features[:, :, :count])
        mask = self.temporal_mask
        mask.lengths, mask.steps = active_bins, features.shape[2]
        mask.packed = PackedLengths(active_bins.to(features.device))
        try:
            return self.post(pack(features, active_bins))
        finally:
            mask.lengths, mask.packed = None, None

    def forward_post(self, features: torch.Tensor, active_bins: torch.Tensor | None) -> torch.Tensor:
        """Run the layers after SGS: packed, bucketed, grouped by B', masked, or padded."""
        execution = self.resolved_execution() if active_bins is None else self.execution_for([active_bins])
        self.last_execution = execution
        if active_bins is None or execution == "padded":
            return self.post(features)
        if execution == "masked":
            return self._masked_post(features, active_bins)
        if execution == "packed":
            return self._packed_post(features, active_bins)
        if execution == "bucketed":

            def run_bucket(key: int, rows: torch.Tensor | None) -> torch.Tensor:
                bins = take_rows(active_bins, rows)
                count = int(bins.max())
                part = take_rows(features, rows)[:, :, :count]
                return self.post(part) if bool((bins == count).all()) else self._masked_post(part, bins)

            return run_grouped(bucket_keys(active_bins.tolist()), run_bucket, device=features.device)
        return run_grouped(
            active_bins.tolist(),
            lambda count, rows: self.post(take_rows(features, rows)[:, :, :count]),
            device=features.device,
        )

    def input_requirements(self) -> dict:
        """What :func:`check_clip` enforces: ``crop_size``, ``min_frames``, ``frame_multiple``."""
        return {"crop_size": getattr(self, "crop_size", 1), "min_frames": 1, "frame_multiple": 1}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A malformed clip gets one message naming the expected layout, not torch's internals.
        check_clip(x, backbone=getattr(self, "backbone_name", type(self).__name__), **self.input_requirements())
        if getattr(self, "channels_last", False):
            x = x.contiguous(memory_format=torch.channels_last_3d)
        features, active_bins = self.forward_features(x)
        return self.forward_post(features, active_bins)
