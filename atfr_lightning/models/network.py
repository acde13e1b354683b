"""Build any registered backbone with an SGS layer at a chosen stage."""

from __future__ import annotations

from typing import Any

from torch import nn

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import get_backbone_spec
from atfr_lightning.models.pooling import make_temporal_pools_adaptive
from atfr_lightning.sgs import SimilarityGuidedSampling


def _stage_output_channels(block: nn.Module) -> int:
    convs = [m for m in block.modules() if isinstance(m, nn.Conv3d)]
    if not convs:
        raise ValueError(f"cannot find the output channels of block {type(block).__name__}")
    # The last residual block's branch2 ends with conv_c; the stem ends with its only conv.
    last_block = block.res_blocks[-1] if hasattr(block, "res_blocks") else block
    if hasattr(last_block, "branch2"):
        return last_block.branch2.conv_c.out_channels
    return convs[-1].out_channels


def _pop_final_activation(block: nn.Module) -> nn.Module | None:
    """Take the final activation out of a stage so SGS can sit before it, as in the reference."""
    owner = block.res_blocks[-1] if hasattr(block, "res_blocks") else block
    activation = getattr(owner, "activation", None)
    if activation is not None:
        owner.activation = None
    return activation


class SGSNetwork(AdaptiveTemporalNetwork):
    """A registered PyTorchVideo backbone with (optionally) one SGS layer inserted.

    Input clips (N, 3, T, H, W) -> logits (N, num_classes). With ``sgs=False`` it computes
    exactly what the PyTorchVideo builder's network computes (the head pool is made temporally
    adaptive, which is the same average at the builder's T).

    Args:
        backbone: registered name, e.g. ``"x3d_s"``.
        num_classes: K.
        num_frames: T of the input clip; ``None`` takes the backbone's standard value.
        crop_size: H = W of the input clip; ``None`` takes the backbone's standard value.
        dropout: dropout before the classifier.
        backbone_kwargs: extra builder arguments (e.g. ``width_factor`` for a smaller X3D).
        sgs: insert an SGS layer.
        insert_after: the stage SGS follows (``"res2"`` in the paper).
        num_bins: B; ``None`` means B = T at the insertion point.
        latent_dim: L of the SGS embedding.
        distance: ``"l2_mean"`` or ``"norm"``.
        kernel: ``"linear"`` or ``"linear_normalized"``.
        sgs_mode: ``"default"`` or ``"reference"``.
        sgs_order: ``"similarity"`` (reference) or ``"time"``: order of the bins after SGS.
        execution: ``"exact"`` (masked in training, grouped in evaluation), ``"grouped"``,
            ``"masked"`` or ``"padded"`` (the reference); see :class:`AdaptiveTemporalNetwork`.
    """

    def __init__(
        self,
        *,
        backbone: str = "x3d_s",
        num_classes: int,
        num_frames: int | None = None,
        crop_size: int | None = None,
        dropout: float = 0.5,
        backbone_kwargs: dict[str, Any] | None = None,
        sgs: bool = True,
        insert_after: str = "res2",
        num_bins: int | None = None,
        latent_dim: int = 8,
        distance: str = "l2_mean",
        kernel: str = "linear",
        sgs_mode: str = "default",
        sgs_order: str = "similarity",
        execution: str = "exact",
    ) -> None:
        spec = get_backbone_spec(backbone)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if insert_after not in spec.stages:
            raise ValueError(
                f"insert_after must be one of {spec.stages} for backbone {backbone!r}, got {insert_after!r}"
            )
        self.backbone_name = backbone
        self.num_frames = num_frames or spec.num_frames
        self.crop_size = crop_size or spec.crop_size
        net = spec.build(
            num_classes=num_classes,
            num_frames=self.num_frames,
            crop_size=self.crop_size,
            dropout=dropout,
            **(backbone_kwargs or {}),
        )
        blocks = net.blocks
        make_temporal_pools_adaptive(blocks[-1])
        index = spec.stages.index(insert_after)
        layer = activation = None
        if sgs:
            layer = SimilarityGuidedSampling(
                in_channels=_stage_output_channels(blocks[index]),
                num_bins=num_bins,
                latent_dim=latent_dim,
                distance=distance,
                kernel=kernel,
                mode=sgs_mode,
                order=sgs_order,
            )
            activation = _pop_final_activation(blocks[index])
        super().__init__(
            blocks=blocks, insert_after=index, sgs=layer, activation=activation, execution=execution
        )
        self.num_classes = num_classes
