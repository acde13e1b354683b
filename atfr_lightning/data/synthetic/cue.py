"""The synthetic conjunction task, "which pattern is shown with the cue" (order-free, harder than ``appear``).

The primary task is ``appear``; this one is kept as a GPU-scale task: the small X3D of
``experiments/synthetic`` does not learn it within the CPU budget (see ``docs/datasets.md``).

Each clip shows a static smooth background. In the left half, a sequence of textured patches
(horizontal stripes, vertical stripes, checkerboard, ring; random colours, size and position)
appears one after another, each for its own number of frames, with gaps between them. In the
right half a cue (a plain disk) flashes once, for 1-3 frames. The label is the pattern on the
left *while* the cue is shown, or "cue alone" when the cue flashes during a gap::

    frame:   0 1 2 3 4 5 6 7 8 9 ...
    left:    . . H H H V . C C C ...     (H, V, C: patterns; .: nothing)
    right:   . . . . . o . . . . ...     (o: the cue)   -> label "vertical stripes"

Why this task (measured on the first primary-task prototype, see ``docs/sgs.md``):

* The label is a function of the *set* of frames, never of their order, so SGS (a set function
  of its slices) can represent it.
* The cue and the pattern sit in different halves, farther apart than the spatial receptive
  field of the layers before SGS (stem + res2), so the conjunction is formed after SGS. A fixed
  temporal average after res2 mixes a short cue frame with its neighbours: when another pattern
  shows within the same window, the averaged slice holds the cue together with two patterns and
  the label is ambiguous. Grouping by similarity keeps the cue's frames in their own bin.
* Per-clip redundancy varies: patterns last 1-8 frames, gaps 0-4, long static holds, and in some
  clips one pattern only. Uniform input subsampling misses a 1-frame cue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atfr_lightning.data.synthetic.shapes import background, contrasting_colours, pattern_mask

CUE_CLASS_NAMES: tuple[str, ...] = (
    "horizontal stripes",
    "vertical stripes",
    "checkerboard",
    "ring",
    "cue alone",
)
CUE_ALONE_LABEL = 4
# Smallest frame_size the task renders (a pattern in the left half, the cue in the right half).
CUE_MIN_FRAME_SIZE = 24
_NUM_PATTERNS = 4


@dataclass(frozen=True)
class CueClip:
    """One rendered clip of the cue task and the facts its side-car metadata records.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames.
        label: Class index (the pattern shown with the cue, or 4 for "cue alone").
        patterns: ``(pattern, onset, duration)`` of each shown patch, in time order.
        cue_onset: First frame of the cue.
        cue_frames: Number of frames the cue is shown.
        need: Smallest number of uniformly spaced frames that contains a cue frame.
        need_average: Smallest number of equal temporal windows (k dividing T) whose cue
            windows show no pattern but the label's: what a fixed k-window average keeps.
    """

    frames: np.ndarray
    label: int
    patterns: tuple[tuple[int, int, int], ...]
    cue_onset: int
    cue_frames: int
    need: int
    need_average: int


def _durations(rng: np.random.Generator, count: int) -> list[int]:
    """Display lengths: 1 frame (35 %), 2 (20 %), 3-4 (25 %), 5-8 (20 %)."""
    durations = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.35:
            durations.append(1)
        elif draw < 0.55:
            durations.append(2)
        elif draw < 0.8:
            durations.append(int(rng.integers(3, 5)))
        else:
            durations.append(int(rng.integers(5, 9)))
    return durations


def _schedule(rng: np.random.Generator, num_frames: int, label: int) -> tuple[list[tuple[int, int, int]], int, int]:
    """Patterns (kind, onset, duration), cue onset and cue length for one clip of class ``label``."""
    while True:
        # Mostly crowded sequences (3-4 patterns), sometimes a lone pattern and long holds.
        count = int(rng.choice([1, 2, 3, 4], p=[0.5, 0.3, 0.15, 0.05]))
        # Clips shorter than 4 frames show at most one pattern a frame (no effect from T = 4 on).
        count = min(count, num_frames)
        kinds = [int(k) for k in rng.permutation(_NUM_PATTERNS)[:count]]
        if label != CUE_ALONE_LABEL and label not in kinds:
            kinds[int(rng.integers(0, count))] = label
        durations = _durations(rng, count)
        gaps = [int(g) for g in rng.choice([0, 1, 2], size=count + 1, p=[0.4, 0.3, 0.3])]
        if label == CUE_ALONE_LABEL:
            # The cue needs a gap of its own somewhere.
            gaps[int(rng.integers(0, count + 1))] = int(rng.integers(1, 4))
        while sum(durations) + sum(gaps) > num_frames:
            # Too long: shorten a random display (or, when all last 1 frame, a random gap).
            longer = [i for i, d in enumerate(durations) if d > 1]
            if longer:
                durations[int(rng.choice(longer))] -= 1
            else:
                gaps[int(np.argmax(gaps))] -= 1
        total = sum(durations) + sum(gaps)
        # Spread the spare frames over the gaps so the sequence can sit anywhere in the clip.
        spare = np.bincount(rng.integers(0, count + 1, size=num_frames - total), minlength=count + 1)
        gaps = [g + int(s) for g, s in zip(gaps, spare)]
        patterns, start = [], gaps[0]
        for kind, duration, gap in zip(kinds, durations, gaps[1:]):
            patterns.append((kind, start, duration))
            start += duration + gap
        shown = np.full(num_frames, -1)
        for kind, onset, duration in patterns:
            shown[onset : onset + duration] = kind
        want = -1 if label == CUE_ALONE_LABEL else label
        # The cue lies inside one display (or one gap): a run of frames that all show `want`.
        candidates = [t for t in range(num_frames) if shown[t] == want]
        if not candidates:
            continue
        cue_onset = int(rng.choice(candidates))
        run_end = cue_onset
        while run_end + 1 < num_frames and shown[run_end + 1] == want:
            run_end += 1
        cue_frames = int(rng.integers(1, min(3, run_end - cue_onset + 1) + 1))
        return patterns, cue_onset, cue_frames


def _need(cue: np.ndarray, num_frames: int) -> int:
    """Smallest k such that round(linspace(0, T - 1, k)) hits a cue frame."""
    for k in range(1, num_frames + 1):
        if cue[np.round(np.linspace(0.0, num_frames - 1, k)).astype(np.int64)].any():
            return k
    raise ValueError("the clip has no cue frame")


def _need_average(cue: np.ndarray, shown: np.ndarray, label: int) -> int:
    """Smallest k (dividing T) such that every window holding a cue frame shows only the label."""
    num_frames = len(cue)
    # -1 marks frames that show no pattern; a cue window may hold them next to the label's.
    allowed = {-1} if label == CUE_ALONE_LABEL else {-1, label}
    for k in range(1, num_frames + 1):
        if num_frames % k:
            continue
        width = num_frames // k
        windows = [slice(i * width, (i + 1) * width) for i in range(k)]
        if all(set(shown[w].tolist()) <= allowed for w in windows if cue[w].any()):
            return k
    return num_frames  # not reached: at k = T every cue window is one frame that shows the label


def make_cue_clip(*, rng: np.random.Generator, label: int, num_frames: int = 16, frame_size: int = 32) -> CueClip:
    """Render one clip of class ``label`` from ``rng`` (deterministic for a seeded generator).

    ``atfr_lightning.data.synthetic.generator.render_clip`` seeds ``rng`` from ``(seed, split, index)``
    and draws ``label`` from a separate balanced stream.

    Returns:
        A :class:`CueClip` whose ``frames`` are ``(num_frames, frame_size, frame_size, 3)`` uint8.

    Raises:
        ValueError: ``label`` out of range, ``num_frames < 2`` or ``frame_size < CUE_MIN_FRAME_SIZE`` (24).
    """
    if not 0 <= label < len(CUE_CLASS_NAMES):
        raise ValueError(f"label must be in 0..{len(CUE_CLASS_NAMES) - 1}, got {label}")
    if num_frames < 2:
        raise ValueError(f"the cue task needs num_frames >= 2 (the cue flashes in part of a clip), got {num_frames}")
    if frame_size < CUE_MIN_FRAME_SIZE:
        raise ValueError(
            f"the cue task needs frame_size >= {CUE_MIN_FRAME_SIZE} (a pattern and a cue side by side), "
            f"got {frame_size}"
        )
    patterns, cue_onset, cue_frames = _schedule(rng, num_frames, label)
    half = frame_size // 2
    frames = np.repeat(background(rng, frame_size)[None], num_frames, axis=0)  # (T, H, W, 3)
    if rng.random() < 0.3:  # a background cut: a second static background from a random frame on
        cut = int(rng.integers(1, num_frames))
        frames[cut:] = background(rng, frame_size)[None]
    shown = np.full(num_frames, -1)
    for kind, onset, duration in patterns:
        size = int(rng.integers(round(half * 0.62), round(half * 0.88) + 1))  # 10-14 px at 32
        period = int(rng.integers(2, 4))
        mask = pattern_mask(kind, size, period, rng)
        fg, bg = contrasting_colours(rng)
        patch = np.where(mask[..., None], fg, bg)
        y = int(rng.integers(0, frame_size - size + 1))
        x = int(rng.integers(0, half - size + 1))
        frames[onset : onset + duration, y : y + size, x : x + size] = patch
        shown[onset : onset + duration] = kind
    radius = rng.uniform(frame_size * 0.09, frame_size * 0.14)  # 3-4.5 px at 32
    cy = rng.uniform(radius, frame_size - radius)
    cx = rng.uniform(half + radius, frame_size - radius)
    yy, xx = np.mgrid[0:frame_size, 0:frame_size]
    disk = np.hypot(yy - cy, xx - cx) <= radius
    colour = np.full(3, 250.0) if rng.random() < 0.5 else np.full(3, 5.0)
    frames[cue_onset : cue_onset + cue_frames, disk] = colour
    cue = np.zeros(num_frames, dtype=bool)
    cue[cue_onset : cue_onset + cue_frames] = True
    return CueClip(
        frames=np.clip(np.round(frames), 0, 255).astype(np.uint8),
        label=label,
        patterns=tuple(patterns),
        cue_onset=cue_onset,
        cue_frames=cue_frames,
        need=_need(cue, num_frames),
        need_average=_need_average(cue, shown, label),
    )
