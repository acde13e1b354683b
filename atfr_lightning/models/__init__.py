"""Backbones with SGS layers: plain nn.Modules (no Lightning)."""

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.backbones import BackboneSpec, available_backbones, get_backbone_spec
from atfr_lightning.models.factory import build_network, network_class
from atfr_lightning.models.input_check import ClipShapeError
from atfr_lightning.models.network import SGSNetwork
from atfr_lightning.models.pooling import TemporalGlobalAvgPool3d
from atfr_lightning.models.pretrained import LoadReport, load_pretrained
from atfr_lightning.models.registered import RegisteredNetwork, SGSLayerOptions
from atfr_lightning.models.slowfast import SlowFastSGSNetwork

__all__ = [
    "AdaptiveTemporalNetwork",
    "BackboneSpec",
    "ClipShapeError",
    "LoadReport",
    "RegisteredNetwork",
    "SGSLayerOptions",
    "SGSNetwork",
    "SlowFastSGSNetwork",
    "TemporalGlobalAvgPool3d",
    "available_backbones",
    "build_network",
    "get_backbone_spec",
    "load_pretrained",
    "network_class",
]
