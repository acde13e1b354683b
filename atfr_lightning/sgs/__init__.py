"""Similarity Guided Sampling: pure torch (no Lightning, fvcore or W&B)."""

from atfr_lightning.sgs import functional
from atfr_lightning.sgs.layer import SimilarityGuidedSampling

__all__ = ["SimilarityGuidedSampling", "functional"]
