"""Lightning layer: the LightningModule and callbacks (above models/ and sgs/)."""

from atfr_lightning.lightning.module import VideoClassifier

__all__ = ["VideoClassifier"]
