"""Lightning callbacks: adaptive-resolution reporting."""

from atfr_lightning.callbacks.summary import AdaptiveResolutionSummary

__all__ = ["AdaptiveResolutionSummary"]
