"""Lightning callbacks: adaptive-resolution reporting."""

from atfr_lightning.callbacks.adaptive_resolution import AdaptiveResolutionLogger
from atfr_lightning.callbacks.flops import FlopsLogger
from atfr_lightning.callbacks.multiview import MultiViewTestAccuracy
from atfr_lightning.callbacks.nonfinite import NonFiniteGuard, NonFiniteLossError
from atfr_lightning.callbacks.predictions import PredictionWriter
from atfr_lightning.callbacks.summary import AdaptiveResolutionSummary

__all__ = [
    "AdaptiveResolutionLogger",
    "AdaptiveResolutionSummary",
    "FlopsLogger",
    "MultiViewTestAccuracy",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PredictionWriter",
]
