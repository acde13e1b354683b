"""Video data: datamodules for the paper's datasets and the synthetic set, clip datasets, transforms.

Subpackages, by role (and by what they import):

* ``readers/``: the annotation files of each dataset (plain Python);
* ``video/``: decoding, temporal sampling, transforms, :class:`ClipDataset`, samplers (torch);
* ``datamodules/``: :class:`VideoDataModule` and one LightningDataModule per dataset (Lightning);
* ``synthetic/``: the synthetic set's generator and its three tasks (numpy and PyAV).

Names are imported lazily so that the pure data modules (and
``python -m atfr_lightning.data.synthetic``) load without importing Lightning or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TASKS": "synthetic.generator",
    "RenderedClip": "synthetic.generator",
    "SyntheticParams": "synthetic.generator",
    "class_names": "synthetic.generator",
    "ensure_synthetic_dataset": "synthetic.generator",
    "render_clip": "synthetic.generator",
    "render_frames": "synthetic.generator",
    "synthetic_dataset_dir": "synthetic.generator",
    "APPEAR_CLASS_NAMES": "synthetic.appear",
    "AppearClip": "synthetic.appear",
    "make_appear_clip": "synthetic.appear",
    "CUE_CLASS_NAMES": "synthetic.cue",
    "CueClip": "synthetic.cue",
    "make_cue_clip": "synthetic.cue",
    "MOTION_CLASS_NAMES": "synthetic.motion",
    "MotionClip": "synthetic.motion",
    "compute_need": "synthetic.motion",
    "make_motion_clip": "synthetic.motion",
    "AnnotationError": "readers.annotations",
    "VideoRecord": "readers.annotations",
    "parse_video_list": "readers.path_label",
    "DECODERS": "video.decoding",
    "VideoReadError": "video.decoding",
    "decode_video": "video.decoding",
    "read_frames": "video.decoding",
    "clip_frame_indices": "video.temporal_sampling",
    "item_generator": "video.temporal_sampling",
    "KINETICS_MEAN": "video.transforms",
    "KINETICS_STD": "video.transforms",
    "Compose": "video.transforms",
    "center_crop": "video.transforms",
    "horizontal_flip": "video.transforms",
    "normalize": "video.transforms",
    "random_crop": "video.transforms",
    "random_horizontal_flip": "video.transforms",
    "random_short_side_scale": "video.transforms",
    "short_side_scale": "video.transforms",
    "uint8_to_float": "video.transforms",
    "uniform_crop": "video.transforms",
    "uniform_temporal_indices": "video.transforms",
    "uniform_temporal_subsample": "video.transforms",
    "ClipDataset": "video.clip_dataset",
    "VideoDecodeWarning": "video.clip_dataset",
    "collate_clips": "video.clip_dataset",
    "EpochShuffleSampler": "video.samplers",
    "VideoDataModule": "datamodules.video",
    "SyntheticDataModule": "datamodules.synthetic",
    "KineticsDataModule": "datamodules.kinetics",
    "MiniKineticsDataModule": "datamodules.kinetics",
    "SSv2DataModule": "datamodules.ssv2",
    "UCF101DataModule": "datamodules.ucf101",
    "HMDB51DataModule": "datamodules.hmdb51",
    "VideoFolderDataModule": "datamodules.video_folder",
    "DecodeFailureSummary": "datamodules.decode_failures",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from atfr_lightning.data.datamodules.decode_failures import DecodeFailureSummary
    from atfr_lightning.data.datamodules.hmdb51 import HMDB51DataModule
    from atfr_lightning.data.datamodules.kinetics import KineticsDataModule, MiniKineticsDataModule
    from atfr_lightning.data.datamodules.ssv2 import SSv2DataModule
    from atfr_lightning.data.datamodules.synthetic import SyntheticDataModule
    from atfr_lightning.data.datamodules.ucf101 import UCF101DataModule
    from atfr_lightning.data.datamodules.video import VideoDataModule
    from atfr_lightning.data.datamodules.video_folder import VideoFolderDataModule
    from atfr_lightning.data.readers.annotations import AnnotationError, VideoRecord
    from atfr_lightning.data.readers.path_label import parse_video_list
    from atfr_lightning.data.synthetic.appear import APPEAR_CLASS_NAMES, AppearClip, make_appear_clip
    from atfr_lightning.data.synthetic.cue import CUE_CLASS_NAMES, CueClip, make_cue_clip
    from atfr_lightning.data.synthetic.generator import (
        TASKS,
        RenderedClip,
        SyntheticParams,
        class_names,
        ensure_synthetic_dataset,
        render_clip,
        render_frames,
        synthetic_dataset_dir,
    )
    from atfr_lightning.data.synthetic.motion import MOTION_CLASS_NAMES, MotionClip, compute_need, make_motion_clip
    from atfr_lightning.data.video.clip_dataset import ClipDataset, VideoDecodeWarning, collate_clips
    from atfr_lightning.data.video.decoding import DECODERS, VideoReadError, decode_video, read_frames
    from atfr_lightning.data.video.samplers import EpochShuffleSampler
    from atfr_lightning.data.video.temporal_sampling import clip_frame_indices, item_generator
    from atfr_lightning.data.video.transforms import (
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


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
