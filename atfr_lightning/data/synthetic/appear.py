"""The primary synthetic task, "which pattern appears" (order-free, brief events, varying redundancy).

Each clip shows a static smooth background. In four of the five classes a textured patch
(horizontal stripes, vertical stripes, checkerboard or ring; random colours, size, position)
appears once, static while visible, for ``d`` frames at a uniform onset; in the fifth class
("nothing") none does. The class is which pattern appears::

    frame:   0 1 2 3 4 5 6 7 8 9 ...
    patch:   . . . . H . . . . . ...     (H: horizontal stripes for 1 frame) -> "horizontal stripes"

What makes a clip's temporal redundancy vary:

* ``d`` = 1 frame (35 %), 2 (15 %), 3-6 (20 %), 7-16 (30 %): a 1-frame event is missed by any
  uniform input subsampling that skips its frame; a long one survives any;
* class-neutral distractors (plain squares or disks with their own timing) in 50 % of the
  clips (80 % of "nothing"): change that carries no label;
* a background cut (the static background changes once) in 30 % of the clips.

The label is a function of the set of frames, never of their order, so SGS (a set function of
its slices) can represent it. It is also decided by content that a feature-level temporal
average keeps (a brief event is diluted, not erased), which makes a fixed average after res2 a
strong control: see ``docs/sgs.md`` for what that means for SGS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atfr_lightning.data.synthetic.shapes import background, contrasting_colours, pattern_mask

APPEAR_CLASS_NAMES: tuple[str, ...] = (
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "ring",
    "nothing",
)
NOTHING_LABEL = 4
APPEAR_MIN_FRAME_SIZE = 16


@dataclass(frozen=True)
class AppearClip:
    """One rendered clip of the appear task and the facts its side-car metadata records.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames.
        label: Class index (the pattern that appears, or 4 for "nothing").
        onset: First frame of the pattern (-1 for "nothing").
        event_frames: Number of frames the pattern is shown (0 for "nothing").
        num_distractors: Class-neutral plain shapes shown.
        background_cut: Frame from which the background changes (-1: no cut).
        need: Smallest number of uniformly spaced frames that contains a pattern frame
            (1 for "nothing", which any frame shows).
    """

    frames: np.ndarray
    label: int
    onset: int
    event_frames: int
    num_distractors: int
    background_cut: int
    need: int


def _event_length(rng: np.random.Generator, num_frames: int) -> int:
    """1 frame (35 %), 2 (15 %), 3-6 (20 %), 7-T (30 %), capped at T."""
    r = rng.random()
    if r < 0.35:
        length = 1
    elif r < 0.5:
        length = 2
    elif r < 0.7:
        length = int(rng.integers(3, 7))
    else:
        length = int(rng.integers(7, max(num_frames, 7) + 1))
    return min(length, num_frames)


def _need(shown: np.ndarray) -> int:
    """Smallest k such that round(linspace(0, T - 1, k)) hits a frame where ``shown`` is True."""
    num_frames = len(shown)
    for k in range(1, num_frames + 1):
        if shown[np.round(np.linspace(0.0, num_frames - 1, k)).astype(np.int64)].any():
            return k
    raise ValueError("the clip shows no pattern")


def make_appear_clip(*, rng: np.random.Generator, label: int, num_frames: int = 16, frame_size: int = 32) -> AppearClip:
    """Render one clip of class ``label`` from ``rng`` (deterministic for a seeded generator)."""
    if not 0 <= label < len(APPEAR_CLASS_NAMES):
        raise ValueError(f"label must be in 0..{len(APPEAR_CLASS_NAMES) - 1}, got {label}")
    if frame_size < APPEAR_MIN_FRAME_SIZE:
        raise ValueError(f"the appear task needs frame_size >= {APPEAR_MIN_FRAME_SIZE}, got {frame_size}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    frames = np.repeat(background(rng, frame_size)[None], num_frames, axis=0)  # (T, H, W, 3)
    cut = -1
    if num_frames > 1 and rng.random() < 0.3:
        cut = int(rng.integers(1, num_frames))
        frames[cut:] = background(rng, frame_size)[None]
    yy, xx = np.mgrid[0:frame_size, 0:frame_size]
    # Distractors first, so the class pattern is drawn over them where they overlap.
    distractors = 0
    if rng.random() < (0.8 if label == NOTHING_LABEL else 0.5):
        distractors = int(rng.integers(1, 3))
        for _ in range(distractors):
            size = int(rng.integers(round(frame_size * 0.2), round(frame_size * 0.4) + 1))
            length = _event_length(rng, num_frames)
            start = int(rng.integers(0, num_frames - length + 1))
            colour = rng.uniform(0, 255, size=3)
            y, x = (int(v) for v in rng.integers(0, frame_size - size + 1, size=2))
            if rng.random() < 0.5:
                shape = (yy >= y) & (yy < y + size) & (xx >= x) & (xx < x + size)
            else:
                shape = np.hypot(yy - (y + size / 2), xx - (x + size / 2)) <= size / 2
            frames[start : start + length, shape] = colour
    onset, length, need = -1, 0, 1
    if label != NOTHING_LABEL:
        length = _event_length(rng, num_frames)
        onset = int(rng.integers(0, num_frames - length + 1))
        size = int(rng.integers(round(frame_size * 0.31), round(frame_size * 0.44) + 1))  # 10-14 px at 32
        mask = pattern_mask(label, size, 2, rng)
        fg, bg = contrasting_colours(rng)
        y, x = (int(v) for v in rng.integers(0, frame_size - size + 1, size=2))
        frames[onset : onset + length, y : y + size, x : x + size] = np.where(mask[..., None], fg, bg)
        shown = np.zeros(num_frames, dtype=bool)
        shown[onset : onset + length] = True
        need = _need(shown)
    return AppearClip(
        frames=np.clip(np.round(frames), 0, 255).astype(np.uint8),
        label=label,
        onset=onset,
        event_frames=length,
        num_distractors=distractors,
        background_cut=cut,
        need=need,
    )
