"""Backbones with SGS layers: plain nn.Modules (no Lightning)."""

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import BackboneSpec, available_backbones, get_backbone_spec
from atfr_lightning.models.input_check import ClipShapeError
from atfr_lightning.models.network import SGSNetwork
from atfr_lightning.models.pooling import TemporalGlobalAvgPool3d
from atfr_lightning.models.pretrained import LoadReport, load_pretrained
from atfr_lightning.models.slowfast import SlowFastSGSNetwork

__all__ = [
    "AdaptiveTemporalNetwork",
    "BackboneSpec",
    "ClipShapeError",
    "LoadReport",
    "SGSNetwork",
    "SlowFastSGSNetwork",
    "TemporalGlobalAvgPool3d",
    "available_backbones",
    "get_backbone_spec",
    "load_pretrained",
]
