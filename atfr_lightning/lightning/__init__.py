"""Lightning layer: the LightningModule and callbacks (above models/ and sgs/)."""

from atfr_lightning.lightning.module import VideoClassifier
from atfr_lightning.lightning.resume import AtomicCheckpointIO

__all__ = ["AtomicCheckpointIO", "VideoClassifier"]
