"""Registry of PyTorchVideo backbones by stable names, built with ``pretrained=False``.

Every builder returns a PyTorchVideo ``Net`` (``.blocks``: stem, res2..res5, head) with logits
out (no softmax) and records its standard input. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from atfr_lightning._pytorchvideo import import_pytorchvideo


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: its builder and standard input (frames, crop size)."""

    name: str
    build: Callable[..., nn.Module]
    num_frames: int
    crop_size: int
    stages: tuple[str, ...]  # names of blocks[0..], head excluded


_REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> None:
    _REGISTRY[spec.name] = spec


def available_backbones() -> list[str]:
    return sorted(_REGISTRY)


def get_backbone_spec(name: str) -> BackboneSpec:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; registered: {', '.join(available_backbones())}")
    return _REGISTRY[name]


def _x3d_builder(*, depth_factor: float) -> Callable[..., nn.Module]:
    def build(
        *, num_classes: int, num_frames: int, crop_size: int, dropout: float = 0.5, **overrides: Any
    ) -> nn.Module:
        x3d = import_pytorchvideo("pytorchvideo.models.x3d")
        kwargs: dict[str, Any] = {"width_factor": 2.0, "depth_factor": depth_factor}
        kwargs.update(overrides)
        return x3d.create_x3d(
            input_clip_length=num_frames,
            input_crop_size=crop_size,
            model_num_class=num_classes,
            dropout_rate=dropout,
            head_activation=None,  # logits; the loss applies the softmax
            **kwargs,
        )

    return build


_X3D_STAGES = ("stem", "res2", "res3", "res4", "res5")
# Standard inputs of the X3D paper (Feichtenhofer, CVPR 2020), Table 3 / PyTorchVideo hub.
register(BackboneSpec("x3d_xs", _x3d_builder(depth_factor=2.2), 4, 160, _X3D_STAGES))
register(BackboneSpec("x3d_s", _x3d_builder(depth_factor=2.2), 13, 160, _X3D_STAGES))
register(BackboneSpec("x3d_m", _x3d_builder(depth_factor=2.2), 16, 224, _X3D_STAGES))
register(BackboneSpec("x3d_l", _x3d_builder(depth_factor=5.0), 16, 312, _X3D_STAGES))
