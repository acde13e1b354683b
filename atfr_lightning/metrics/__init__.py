"""Metrics beyond torchmetrics': multi-view video accuracy."""

from atfr_lightning.metrics.multiview import MultiViewAccuracy

__all__ = ["MultiViewAccuracy"]
