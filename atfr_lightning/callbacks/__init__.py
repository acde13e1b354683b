"""Lightning callbacks: adaptive-resolution reporting (per-clip records in :mod:`atfr_lightning.records`)."""

from atfr_lightning.callbacks.adaptive_resolution import AdaptiveResolutionLogger
from atfr_lightning.callbacks.flops import FlopsLogger
from atfr_lightning.callbacks.frame_strips import FrameStripLogger
from atfr_lightning.callbacks.multiview import MultiViewTestAccuracy
from atfr_lightning.callbacks.nonfinite import NonFiniteGuard, NonFiniteLossError
from atfr_lightning.callbacks.per_clip import PerClipCallback
from atfr_lightning.callbacks.predictions import PredictionWriter
from atfr_lightning.callbacks.summary import AdaptiveResolutionSummary

__all__ = [
    "AdaptiveResolutionLogger",
    "AdaptiveResolutionSummary",
    "FlopsLogger",
    "FrameStripLogger",
    "MultiViewTestAccuracy",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PerClipCallback",
    "PredictionWriter",
]
