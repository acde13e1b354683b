"""Build a registered backbone and prepare a stage for an SGS layer (shared by every network)."""

from __future__ import annotations

from typing import Any

from torch import nn

from atfr_lightning.models.backbones import BackboneSpec, get_backbone_spec


def build_registered(
    *,
    backbone: str,
    num_classes: int,
    num_frames: int | None,
    crop_size: int | None,
    dropout: float,
    backbone_kwargs: dict[str, Any] | None,
    insert_after: str,
) -> tuple[BackboneSpec, nn.Module, int, int]:
    """Check the arguments and build the backbone: ``(spec, net, num_frames, crop_size)``."""
    spec = get_backbone_spec(backbone)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if insert_after not in spec.sgs_stages:
        raise ValueError(
            f"insert_after must be one of {spec.sgs_stages} for backbone {backbone!r}, got {insert_after!r}"
        )
    num_frames = num_frames or spec.num_frames
    crop_size = crop_size or spec.crop_size
    if num_frames < spec.alpha:
        raise ValueError(
            f"num_frames must be >= alpha = {spec.alpha} for {backbone!r} (the Slow pathway takes "
            f"every {spec.alpha}-th frame), got {num_frames}"
        )
    if crop_size < 1:
        raise ValueError(f"crop_size must be >= 1, got {crop_size}")
    net = spec.build(
        num_classes=num_classes, num_frames=num_frames, crop_size=crop_size, dropout=dropout, **(backbone_kwargs or {})
    )
    return spec, net, num_frames, crop_size


def stage_output_channels(block: nn.Module) -> int:
    """Output channels of a stem or residual stage."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv3d)]
    if not convs:
        raise ValueError(f"cannot find the output channels of block {type(block).__name__}")
    # The last residual block's branch2 ends with conv_c; the stem ends with its only conv.
    last_block = block.res_blocks[-1] if hasattr(block, "res_blocks") else block
    if hasattr(last_block, "branch2"):
        return last_block.branch2.conv_c.out_channels
    return convs[-1].out_channels


def pop_final_activation(block: nn.Module) -> nn.Module | None:
    """Take the final activation out of a stage so SGS can sit before it, as in the reference.

    For a stem whose activation is followed by a max pool, SGS then follows the pool: max pool
    and ReLU commute, so the stem computes the same thing.
    """
    owner = block.res_blocks[-1] if hasattr(block, "res_blocks") else block
    activation = getattr(owner, "activation", None)
    if activation is not None:
        owner.activation = None
    return activation
