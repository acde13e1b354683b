"""Pick the network class from the backbone: one entry point for every registered backbone."""

from __future__ import annotations

from typing import Any

from atfr_lightning.models.backbones import get_backbone_spec
from atfr_lightning.models.network import SGSNetwork
from atfr_lightning.models.registered import RegisteredNetwork
from atfr_lightning.models.slowfast import SlowFastSGSNetwork

_CLASSES: tuple[type[RegisteredNetwork], ...] = (SGSNetwork, SlowFastSGSNetwork)


def network_class(backbone: str) -> type[RegisteredNetwork]:
    """The class that builds ``backbone``: SlowFastSGSNetwork for ``slowfast_*``, else SGSNetwork."""
    family = get_backbone_spec(backbone).family
    for cls in _CLASSES:
        if family in cls.families:
            return cls
    raise ValueError(f"no network class builds backbone family {family!r} (backbone {backbone!r})")


def build_network(*, backbone: str, **options: Any) -> RegisteredNetwork:
    """``network_class(backbone)(backbone=backbone, **options)``; options as for RegisteredNetwork."""
    return network_class(backbone)(backbone=backbone, **options)
