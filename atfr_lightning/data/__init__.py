"""Video data: the synthetic action dataset, a ``path label`` video dataset, transforms, datamodule.

Names are imported lazily so that the pure data modules (and
``python -m atfr_lightning.data.synthetic``) load without importing Lightning or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CLASS_NAMES": "synthetic",
    "SyntheticClip": "synthetic",
    "SyntheticParams": "synthetic",
    "compute_need": "synthetic",
    "ensure_synthetic_dataset": "synthetic",
    "make_clip": "synthetic",
    "render_frames": "synthetic",
    "synthetic_dataset_dir": "synthetic",
    "VideoDataset": "video_dataset",
    "VideoDecodeWarning": "video_dataset",
    "VideoEntry": "video_dataset",
    "decode_video": "video_dataset",
    "parse_video_list": "video_dataset",
    "KINETICS_MEAN": "transforms",
    "KINETICS_STD": "transforms",
    "Compose": "transforms",
    "center_crop": "transforms",
    "horizontal_flip": "transforms",
    "normalize": "transforms",
    "random_crop": "transforms",
    "short_side_scale": "transforms",
    "uint8_to_float": "transforms",
    "uniform_temporal_indices": "transforms",
    "uniform_temporal_subsample": "transforms",
    "SyntheticDataModule": "datamodule",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from atfr_lightning.data.datamodule import SyntheticDataModule
    from atfr_lightning.data.synthetic import (
        CLASS_NAMES,
        SyntheticClip,
        SyntheticParams,
        compute_need,
        ensure_synthetic_dataset,
        make_clip,
        render_frames,
        synthetic_dataset_dir,
    )
    from atfr_lightning.data.transforms import (
        KINETICS_MEAN,
        KINETICS_STD,
        Compose,
        center_crop,
        horizontal_flip,
        normalize,
        random_crop,
        short_side_scale,
        uint8_to_float,
        uniform_temporal_indices,
        uniform_temporal_subsample,
    )
    from atfr_lightning.data.video_dataset import (
        VideoDataset,
        VideoDecodeWarning,
        VideoEntry,
        decode_video,
        parse_video_list,
    )


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
