"""Registry of PyTorchVideo backbones by stable names, built with ``pretrained=False``.

Every builder calls a PyTorchVideo ``create_*`` function with the architecture settings of the
matching ``pytorchvideo.models.hub`` entry (so the model zoo's checkpoints load unchanged), but
sizes the head's pool for the requested input instead of the hub's fixed 224-pixel one. It
returns a PyTorchVideo ``Net`` (``.blocks``: stem, res2..res5, head) with logits out (no softmax).
Nothing is downloaded.

Frame counts: ``num_frames`` is the clip length the network takes. For SlowFast it is the Fast
pathway's length; the Slow pathway sees every ``alpha``-th frame (``8x8`` = 8 Slow frames, 32 Fast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from atfr_lightning._pytorchvideo import import_pytorchvideo

FAMILIES = ("x3d", "resnet", "slowfast")


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: its builder, standard input and block names.

    Attributes:
        name: stable registry name (used in configs).
        build: ``build(*, num_classes, num_frames, crop_size, dropout, **overrides) -> Net``.
        num_frames: standard clip length (Fast pathway for SlowFast).
        crop_size: standard training crop (H = W).
        stages: names of ``blocks[0..]``, head excluded (``"pool2"`` = a pooling block).
        family: ``"x3d"``, ``"resnet"`` (single pathway) or ``"slowfast"`` (two pathways).
        hub_name: the ``pytorchvideo.models.hub`` function with the same architecture (``None``
            where the hub has none).
        alpha: SlowFast frame-rate ratio Fast/Slow (1 for single-pathway backbones).
    """

    name: str
    build: Callable[..., nn.Module]
    num_frames: int
    crop_size: int
    stages: tuple[str, ...]
    family: str
    hub_name: str | None
    alpha: int = 1

    @property
    def sgs_stages(self) -> tuple[str, ...]:
        """Stages SGS may follow: the stem and the residual stages (not pooling blocks)."""
        return tuple(s for s in self.stages if s == "stem" or s.startswith("res"))

    @property
    def pathways(self) -> tuple[str, ...]:
        return ("slow", "fast") if self.family == "slowfast" else ("",)


_REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> None:
    if spec.family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {spec.family!r}")
    _REGISTRY[spec.name] = spec


def available_backbones() -> list[str]:
    return sorted(_REGISTRY)


def get_backbone_spec(name: str) -> BackboneSpec:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; registered: {', '.join(available_backbones())}")
    return _REGISTRY[name]


def _head_spatial(crop_size: int) -> int:
    # Every registered backbone halves H and W five times (stride-2 convs/pools with "same"
    # padding round up), so the head sees ceil(crop / 32); its pool covers all of it.
    return math.ceil(crop_size / 32)


# ---------------------------------------------------------------------------------------- X3D
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
register(BackboneSpec("x3d_xs", _x3d_builder(depth_factor=2.2), 4, 160, _X3D_STAGES, "x3d", "x3d_xs"))
register(BackboneSpec("x3d_s", _x3d_builder(depth_factor=2.2), 13, 160, _X3D_STAGES, "x3d", "x3d_s"))
register(BackboneSpec("x3d_m", _x3d_builder(depth_factor=2.2), 16, 224, _X3D_STAGES, "x3d", "x3d_m"))
register(BackboneSpec("x3d_l", _x3d_builder(depth_factor=5.0), 16, 312, _X3D_STAGES, "x3d", "x3d_l"))


# ------------------------------------------------------------------ ResNet family (one pathway)
def _resnet_builder(
    module: str, create: str, *, head_frames: Callable[[int], int], **arch: Any
) -> Callable[..., nn.Module]:
    """A builder calling ``pytorchvideo.models.<module>.<create>`` with the hub's ``arch`` settings."""

    def build(
        *, num_classes: int, num_frames: int, crop_size: int, dropout: float = 0.5, **overrides: Any
    ) -> nn.Module:
        create_fn = getattr(import_pytorchvideo(f"pytorchvideo.models.{module}"), create)
        spatial = _head_spatial(crop_size)
        kwargs: dict[str, Any] = {
            **arch,
            "model_num_class": num_classes,
            "dropout_rate": dropout,
            "head_activation": None,  # logits (R(2+1)D's builder defaults to a softmax)
            "head_pool_kernel_size": (max(head_frames(num_frames), 1), spatial, spatial),
        }
        kwargs.update(overrides)
        return create_fn(**kwargs)

    return build


def _resnet_stages(*, pool_after_res2: bool) -> tuple[str, ...]:
    return ("stem", "res2", "pool2", "res3", "res4", "res5") if pool_after_res2 else (
        "stem", "res2", "res3", "res4", "res5"
    )


# Architecture settings copied from pytorchvideo.models.hub (resnet.py, r2plus1d.py, csn.py).
register(BackboneSpec(
    "slow_r50",
    _resnet_builder("resnet", "create_resnet", head_frames=lambda t: t,
                    model_depth=50, stem_conv_kernel_size=(1, 7, 7)),
    8, 224, _resnet_stages(pool_after_res2=False), "resnet", "slow_r50",
))
register(BackboneSpec(
    "c2d_r50",
    # stage1_pool halves T after res2 (kernel = stride = 2, no padding).
    _resnet_builder("resnet", "create_resnet", head_frames=lambda t: t // 2,
                    stem_conv_kernel_size=(1, 7, 7), stage1_pool=nn.MaxPool3d,
                    stage_conv_a_kernel_size=((1, 1, 1),) * 4),
    8, 224, _resnet_stages(pool_after_res2=True), "resnet", "c2d_r50",
))
register(BackboneSpec(
    "i3d_r50",
    _resnet_builder("resnet", "create_resnet", head_frames=lambda t: t // 2,
                    stem_conv_kernel_size=(5, 7, 7), stage1_pool=nn.MaxPool3d,
                    stage_conv_a_kernel_size=(
                        (3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)], [(1, 1, 1), (3, 1, 1)]
                    )),
    8, 224, _resnet_stages(pool_after_res2=True), "resnet", "i3d_r50",
))
register(BackboneSpec(
    "r2plus1d_r50",
    # Temporal strides (1, 1, 2, 2) in res2..res5: T / 4 at the head.
    _resnet_builder("r2plus1d", "create_r2plus1d", head_frames=lambda t: math.ceil(t / 4)),
    16, 224, _resnet_stages(pool_after_res2=False), "resnet", "r2plus1d_r50",
))
register(BackboneSpec(
    "csn_r101",
    # Temporal strides (1, 2, 2, 2) in res2..res5: T / 8 at the head.
    _resnet_builder("csn", "create_csn", head_frames=lambda t: math.ceil(t / 8),
                    model_depth=101, stem_pool=nn.MaxPool3d),
    32, 224, _resnet_stages(pool_after_res2=False), "resnet", "csn_r101",
))


# --------------------------------------------------------------------- SlowFast (two pathways)
def _slowfast_builder(*, alpha: int, **arch: Any) -> Callable[..., nn.Module]:
    def build(
        *, num_classes: int, num_frames: int, crop_size: int, dropout: float = 0.5, **overrides: Any
    ) -> nn.Module:
        slowfast = import_pytorchvideo("pytorchvideo.models.slowfast")
        spatial = _head_spatial(crop_size)
        kwargs: dict[str, Any] = {
            **arch,
            "slowfast_fusion_conv_stride": (alpha, 1, 1),
            "model_num_class": num_classes,
            "dropout_rate": dropout,
            "head_activation": None,
            "head_pool_kernel_sizes": (
                (max(num_frames // alpha, 1), spatial, spatial),
                (num_frames, spatial, spatial),
            ),
        }
        kwargs.update(overrides)
        return slowfast.create_slowfast(**kwargs)

    return build


_SLOWFAST_STAGES = ("stem", "res2", "res3", "res4", "res5", "pool")
# Fusion kernels: 7 for R50 8x8, 5 for R101 8x8 (hub); 5 with alpha 8 for R50 4x16 (PySlowFast's
# SLOWFAST_4x16_R50 config, the zoo checkpoint SLOWFAST_4x16_R50.pyth; not in the hub).
register(BackboneSpec(
    "slowfast_r50", _slowfast_builder(alpha=4, model_depth=50, slowfast_fusion_conv_kernel_size=(7, 1, 1)),
    32, 224, _SLOWFAST_STAGES, "slowfast", "slowfast_r50", alpha=4,
))
register(BackboneSpec(
    "slowfast_r50_4x16", _slowfast_builder(alpha=8, model_depth=50, slowfast_fusion_conv_kernel_size=(5, 1, 1)),
    32, 224, _SLOWFAST_STAGES, "slowfast", None, alpha=8,
))
register(BackboneSpec(
    "slowfast_r101", _slowfast_builder(alpha=4, model_depth=101, slowfast_fusion_conv_kernel_size=(5, 1, 1)),
    32, 224, _SLOWFAST_STAGES, "slowfast", "slowfast_r101", alpha=4,
))
