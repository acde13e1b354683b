"""Published GFLOPs (multiply-adds, one view) and parameters of every registered backbone.

Sources:

* ``zoo``: the PyTorchVideo model zoo, Kinetics-400 table (docs/source/model_zoo.md), column
  "Flops (G) x views", one view = one 256 x 256 crop of a clip of the listed frames (the zoo's
  test crop; frames x sample rate as listed, SlowFast frames = Slow pathway, Fast = alpha x).
* ``x3d_paper``: Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition",
  CVPR 2020, Table 3 (also PySlowFast's MODEL_ZOO.md), at each model's own input size.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedCost:
    """A published cost and the input it was measured at.

    ``num_frames`` is the network's input length (the Fast pathway's for SlowFast), ``crop_size``
    its H = W. ``batch_norm`` is the batch-norm convention of ``count_gflops`` that reproduces
    the figure (found by measurement, see docs/backbones.md): ``"none"`` (conv + linear) or
    ``"train"`` (plus batch norm as fvcore counts it in training mode, 5 per element).
    """

    gflops: float
    params_m: float
    num_frames: int
    crop_size: int
    source: str
    batch_norm: str
    note: str = ""


PUBLISHED: dict[str, PublishedCost] = {
    "x3d_xs": PublishedCost(0.60, 3.8, 4, 160, "x3d_paper", "none"),
    "x3d_s": PublishedCost(1.96, 3.8, 13, 160, "x3d_paper", "none"),
    "x3d_m": PublishedCost(4.73, 3.8, 16, 224, "x3d_paper", "none"),
    "x3d_l": PublishedCost(18.37, 6.2, 16, 312, "x3d_paper", "none"),
    "slow_r50": PublishedCost(54.52, 32.45, 8, 256, "zoo", "none", "Slow 8x8"),
    "c2d_r50": PublishedCost(25.89, 24.33, 8, 256, "zoo", "train", "C2D 8x8"),
    "i3d_r50": PublishedCost(37.53, 28.04, 8, 256, "zoo", "train", "I3D 8x8"),
    "r2plus1d_r50": PublishedCost(76.45, 28.11, 16, 256, "zoo", "train", "R(2+1)D 16x4"),
    "csn_r101": PublishedCost(75.62, 22.21, 32, 256, "zoo", "train", "CSN 32x2"),
    "slowfast_r50": PublishedCost(65.71, 34.57, 32, 256, "zoo", "none", "SlowFast 8x8: Slow 8, Fast 32 frames"),
    "slowfast_r50_4x16": PublishedCost(36.69, 34.48, 32, 256, "zoo", "train", "SlowFast 4x16: Slow 4, Fast 32 frames"),
    "slowfast_r101": PublishedCost(127.20, 62.83, 32, 256, "zoo", "train", "SlowFast 8x8: Slow 8, Fast 32 frames"),
}
