"""Backbones with SGS layers: plain nn.Modules (no Lightning)."""

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import available_backbones, get_backbone_spec
from atfr_lightning.models.network import SGSNetwork
from atfr_lightning.models.pooling import TemporalGlobalAvgPool3d

__all__ = [
    "AdaptiveTemporalNetwork",
    "SGSNetwork",
    "TemporalGlobalAvgPool3d",
    "available_backbones",
    "get_backbone_spec",
]
