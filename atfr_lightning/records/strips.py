"""Frame strips: the frames of one clip side by side, a bar under each coloured by its bin."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# Distinct colours for bin ids (tab10-like), cycled for more bins; grey marks a dropped slice.
_PALETTE = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207], [127, 127, 127]],
    dtype=np.uint8,
)
_DROPPED = np.array([40, 40, 40], dtype=np.uint8)


def frame_bins(kernel: np.ndarray, *, num_frames: int) -> np.ndarray:
    """Bin of each input frame (num_frames,) from one clip's compact kernel (B'max, T_feat).

    A temporal slice goes to the bin with its largest weight; -1 when all its weights are 0 (the
    reference mode drops the most distinctive slice). When SGS sees fewer slices than input
    frames (a temporal stride before it), frame f belongs to slice floor(f * T_feat / num_frames).
    """
    slice_bin = np.where(kernel.max(axis=0) > 0, kernel.argmax(axis=0), -1)  # (T_feat,)
    steps = kernel.shape[1]
    return slice_bin[(np.arange(num_frames) * steps) // num_frames]


def frame_strip(frames: np.ndarray, bins_per_layer: Mapping[str, np.ndarray], *, bar: int = 6) -> np.ndarray:
    """uint8 image (H + bar * layers, T * W, 3): the frames side by side, a bar coloured by bin under each.

    Args:
        frames: (3, T, H, W) float frames of one clip (any normalisation; rescaled to 0..255).
        bins_per_layer: per SGS layer, the bin of each frame (T,), -1 for a dropped slice.
    """
    frames = np.asarray(frames, dtype=np.float64)
    low, high = frames.min(), frames.max()
    pixels = ((frames - low) / max(high - low, 1e-8) * 255).astype(np.uint8)  # (3, T, H, W)
    _, steps, height, width = pixels.shape
    row = pixels.transpose(2, 1, 3, 0).reshape(height, steps * width, 3)  # (H, T*W, 3)
    bars = []
    for bins in bins_per_layer.values():
        colours = np.where((np.asarray(bins) < 0)[:, None], _DROPPED, _PALETTE[np.asarray(bins) % len(_PALETTE)])
        bars.append(np.repeat(np.repeat(colours[None], bar, axis=0), width, axis=1))  # (bar, T*W, 3)
    return np.concatenate([row, *bars], axis=0)


def strip_caption(video_index: int, label: int, prediction: int, bins_per_layer: Mapping[str, np.ndarray]) -> str:
    """The caption of one strip: the clip, its label and prediction, and each frame's bin per layer."""
    return (
        f"video {video_index}, label {label}, prediction {prediction}; bin of each frame: "
        + "; ".join(f"{name} {np.asarray(values).tolist()}" for name, values in bins_per_layer.items())
    )
