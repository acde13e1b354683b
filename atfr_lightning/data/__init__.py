"""Video data: datamodules for the paper's datasets and the synthetic set, clip datasets, transforms.

Names are imported lazily so that the pure data modules (and
``python -m atfr_lightning.data.synthetic``) load without importing Lightning or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TASKS": "synthetic",
    "RenderedClip": "synthetic",
    "SyntheticParams": "synthetic",
    "class_names": "synthetic",
    "ensure_synthetic_dataset": "synthetic",
    "render_clip": "synthetic",
    "render_frames": "synthetic",
    "synthetic_dataset_dir": "synthetic",
    "APPEAR_CLASS_NAMES": "synthetic_appear",
    "AppearClip": "synthetic_appear",
    "make_appear_clip": "synthetic_appear",
    "CUE_CLASS_NAMES": "synthetic_cue",
    "CueClip": "synthetic_cue",
    "make_cue_clip": "synthetic_cue",
    "MOTION_CLASS_NAMES": "synthetic_motion",
    "MotionClip": "synthetic_motion",
    "compute_need": "synthetic_motion",
    "make_motion_clip": "synthetic_motion",
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
    "VideoDataModule": "base",
    "KineticsDataModule": "datamodules",
    "MiniKineticsDataModule": "datamodules",
    "SSv2DataModule": "datamodules",
    "UCF101DataModule": "datamodules",
    "HMDB51DataModule": "datamodules",
    "VideoFolderDataModule": "video_folder",
    "ClipDataset": "clip_dataset",
    "collate_clips": "clip_dataset",
    "EpochShuffleSampler": "samplers",
    "DecodeFailureSummary": "failures",
    "AnnotationError": "annotations",
    "VideoRecord": "annotations",
    "DECODERS": "decoding",
    "VideoReadError": "decoding",
    "read_frames": "decoding",
    "clip_frame_indices": "sampling",
    "item_generator": "sampling",
    "random_horizontal_flip": "transforms",
    "random_short_side_scale": "transforms",
    "uniform_crop": "transforms",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from atfr_lightning.data.annotations import AnnotationError, VideoRecord
    from atfr_lightning.data.base import VideoDataModule
    from atfr_lightning.data.clip_dataset import ClipDataset, collate_clips
    from atfr_lightning.data.datamodule import SyntheticDataModule
    from atfr_lightning.data.datamodules import (
        HMDB51DataModule,
        KineticsDataModule,
        MiniKineticsDataModule,
        SSv2DataModule,
        UCF101DataModule,
    )
    from atfr_lightning.data.decoding import DECODERS, VideoReadError, read_frames
    from atfr_lightning.data.failures import DecodeFailureSummary
    from atfr_lightning.data.samplers import EpochShuffleSampler
    from atfr_lightning.data.sampling import clip_frame_indices, item_generator
    from atfr_lightning.data.synthetic import (
        TASKS,
        RenderedClip,
        SyntheticParams,
        class_names,
        ensure_synthetic_dataset,
        render_clip,
        render_frames,
        synthetic_dataset_dir,
    )
    from atfr_lightning.data.synthetic_appear import APPEAR_CLASS_NAMES, AppearClip, make_appear_clip
    from atfr_lightning.data.synthetic_cue import CUE_CLASS_NAMES, CueClip, make_cue_clip
    from atfr_lightning.data.synthetic_motion import MOTION_CLASS_NAMES, MotionClip, compute_need, make_motion_clip
    from atfr_lightning.data.transforms import (
        KINETICS_MEAN,
        KINETICS_STD,
        Compose,
        center_crop,
        horizontal_flip,
        normalize,
        random_crop,
        random_horizontal_flip,
        random_short_side_scale,
        short_side_scale,
        uint8_to_float,
        uniform_crop,
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
    from atfr_lightning.data.video_folder import VideoFolderDataModule


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
