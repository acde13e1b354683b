"""atfr-lightning: 3D CNNs with Adaptive Temporal Feature Resolutions on PyTorch Lightning."""

__version__ = "0.1.0"
