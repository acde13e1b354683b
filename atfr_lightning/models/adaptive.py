"""A backbone cut in two around an SGS layer, run so that every clip is exact."""

from __future__ import annotations

import torch
from torch import nn

from atfr_lightning.sgs import SimilarityGuidedSampling

EXECUTIONS = ("grouped", "padded")


class AdaptiveTemporalNetwork(nn.Module):
    """``pre -> SGS -> activation -> post`` with a per-clip temporal length after SGS.

    ::

        x (N, 3, T, H, W) -> blocks[:k+1] -> (N, C, T, h, w) -> SGS -> (N, C, B'max, h, w)
          -> activation -> blocks[k+1:], per group of clips sharing B' -> logits (N, K)

    The backbone's blocks keep their PyTorchVideo names (``blocks.<i>.*``), so the builder's
    state dicts load unchanged; only ``sgs.*`` is new.

    ``execution="grouped"`` (default) runs ``post`` once per distinct B' on exactly that many
    slices: no zero padding reaches a convolution, batch norm or pool, so in evaluation a
    clip's logits do not depend on the other clips in its batch, and later layers really cost
    B'/T. ``execution="padded"`` is the reference behaviour (zero-padded to B'max in one pass),
    kept for parity studies.

    Args:
        blocks: the backbone's blocks, head last; the blocks after the insertion point must
            accept any temporal length.
        insert_after: index k of the block SGS follows.
        sgs: the SGS layer, or ``None`` for the plain backbone.
        activation: the final activation taken out of ``blocks[k]`` so SGS can sit before it
            (the reference puts SGS after the last residual sum and before its ReLU); ``None``
            when the block keeps it.
        execution: ``"grouped"`` or ``"padded"``.
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
        sampled, active_bins = self.sgs(features)
        return self.activation(sampled), active_bins

    def forward_post(self, features: torch.Tensor, active_bins: torch.Tensor | None) -> torch.Tensor:
        """Run the layers after SGS, grouped by B' or padded."""
        if active_bins is None or self.execution == "padded":
            return self.post(features)
        counts = active_bins.tolist()
        groups = sorted(set(counts))
        if len(groups) == 1:
            return self.post(features[:, :, : groups[0]])
        outputs: list[torch.Tensor] = [None] * len(counts)  # type: ignore[list-item]
        for count in groups:
            index = torch.tensor([i for i, c in enumerate(counts) if c == count], device=features.device)
            out = self.post(features.index_select(0, index)[:, :, :count])
            for row, i in enumerate(index.tolist()):
                outputs[i] = out[row]
        return torch.stack(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, active_bins = self.forward_features(x)
        return self.forward_post(features, active_bins)
