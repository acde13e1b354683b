"""The order-sensitive stress task of the synthetic set: which way the pattern moves *last*.

Each clip shows one random texture (a few cosines plus frozen, smoothed noise, random
contrast, brightness and tint) translating rigidly over a periodic canvas. Appearance is
drawn independently of the class, so a single frame carries no label information; only
the motion between frames does. The label is the direction of the clip's *last* motion
phase, and the clips differ in how much temporal resolution that takes to see:

* ``speed`` (log-uniform, 0.5..3 px/frame) sets how far the pattern moves per step;
* stop-and-go bursts insert exactly repeated frames inside moving phases;
* 1-3 phases per clip: a moving clip may first hold still or move in another direction
  before its last phase, so a short late phase needs a fine temporal sampling to be seen
  at all, while long holds make many frames redundant.

Why it is only the stress task: the label depends on the *order* of the phases, and SGS is
a set function of its slices (it groups similar slices in any order), so the clips whose
earlier phase moves in another direction are out of its reach by construction. The primary
task is ``appear``. This module only renders; seeding, labels and files live in
``atfr_lightning.data.synthetic.generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MOTION_CLASS_NAMES: tuple[str, ...] = (
    "moving up",
    "moving down",
    "moving left",
    "moving right",
    "staying still",
)
STILL_LABEL = 4

# (dx, dy) of the pattern per moving step, in image coordinates (y grows downwards).
_DIRECTIONS: dict[int, tuple[int, int]] = {0: (0, -1), 1: (0, 1), 2: (-1, 0), 3: (1, 0), 4: (0, 0)}

_SPEED_RANGE = (0.5, 3.0)
_MAX_PHASES = 3
# The last phase spans at least this many steps: shorter ones were not learnable by a small
# X3D within the quickstart's CPU budget (measured), yet short late phases still need many bins.
_MIN_LAST_STEPS = 4
# Earlier phases hold still with this probability, else move in another direction.
_EARLIER_STILL_PROBABILITY = 0.75
_STOP_AND_GO_PROBABILITY = 0.5


@dataclass(frozen=True)
class MotionClip:
    """One rendered clip of the motion task and the facts its side-car metadata records.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB frames, exactly as they are encoded.
        label: Class index, the direction of the last phase.
        speed: Pattern displacement per moving step, in pixels.
        moving_fraction: Fraction of the ``T - 1`` frame-to-frame steps that move.
        num_phases: Number of motion phases (1-3).
        phase_labels: Class index of each phase, the last one equals ``label``.
        last_phase_start: First frame of the last phase; steps ``last_phase_start ..
            T - 2`` (frame ``t`` to ``t + 1``) belong to it.
        need: See :func:`compute_need`.
    """

    frames: np.ndarray
    label: int
    speed: float
    moving_fraction: float
    num_phases: int
    phase_labels: tuple[int, ...]
    last_phase_start: int
    need: int


def sampled_frame_indices(num_frames: int, num_samples: int) -> np.ndarray:
    """Indices of ``num_samples`` uniformly spaced frames: ``round(linspace(0, T - 1, k))``.

    Rounding is numpy's (half to even). ``transforms.uniform_temporal_indices`` uses the same
    rule, so ``need`` speaks about exactly the frames the data pipeline would pick.
    """
    return np.round(np.linspace(0.0, num_frames - 1, num_samples)).astype(np.int64)


def compute_need(*, step_moves: Sequence[bool], last_phase_start: int, still: bool) -> int:
    """Smallest number of uniformly spaced frames that still determines the label.

    A clip of ``T`` frames has ``T - 1`` steps; ``step_moves[t]`` says whether the pattern
    moves between frames ``t`` and ``t + 1``. The last phase starts at frame ``b =
    last_phase_start`` and owns steps ``b .. T - 2``. ``need`` is the smallest ``k`` in
    ``1..T`` such that the frames ``round(linspace(0, T - 1, k))`` contain two consecutive
    samples ``i < j`` with ``i >= b`` (both inside the last phase) that

    * differ, for a moving class (some step in ``i .. j - 1`` moves), or
    * are identical, for "staying still" (no step in ``i .. j - 1`` moves).

    ``k = 1`` never qualifies (one frame shows no motion). Every clip the generator makes
    has ``need <= T`` by construction.

    Raises:
        ValueError: if even the full frame rate does not determine the label.
    """
    moves = np.asarray(step_moves, dtype=bool)
    num_frames = len(moves) + 1
    if not 0 <= last_phase_start < num_frames - 1:
        raise ValueError(
            f"last_phase_start must be in 0..{num_frames - 2} for {num_frames} frames, got {last_phase_start}"
        )
    # moved_before[t] = number of moving steps among steps 0..t-1, so a pair (i, j) moves iff
    # moved_before[j] > moved_before[i].
    moved_before = np.concatenate([[0], np.cumsum(moves)])
    for num_samples in range(2, num_frames + 1):
        indices = sampled_frame_indices(num_frames, num_samples)
        for i, j in zip(indices[:-1], indices[1:]):
            if i < last_phase_start:
                continue
            differ = moved_before[j] > moved_before[i]
            if differ != still:
                return num_samples
    raise ValueError("the label is not determined even at the full frame rate")


def _texture(rng: np.random.Generator, canvas: int) -> np.ndarray:
    """Periodic ``(canvas, canvas)`` texture with zero mean and unit standard deviation."""
    grid = np.arange(canvas) / canvas
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    cosines = np.zeros((canvas, canvas))
    for _ in range(int(rng.integers(2, 5))):
        # Integer frequencies keep the canvas periodic, so wrap-around shows no seam.
        fx, fy = 0, 0
        while fx == 0 and fy == 0:
            fx, fy = (int(v) for v in rng.integers(-4, 5, size=2))
        cosines += rng.uniform(0.3, 1.0) * np.cos(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
    # Frozen noise: drawn once per clip and moving with the pattern. Smoothing it keeps the
    # texture band-limited, so sub-pixel Fourier shifts are exact and H.264 keeps it.
    freqs = np.fft.fftfreq(canvas)
    sigma = rng.uniform(0.7, 1.5)
    lowpass = np.exp(-2 * (np.pi * sigma) ** 2 * (freqs[:, None] ** 2 + freqs[None, :] ** 2))
    noise = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((canvas, canvas))) * lowpass))
    texture = cosines / cosines.std() + rng.uniform(0.5, 1.0) * noise / noise.std()
    return (texture - texture.mean()) / texture.std()


def _phases(rng: np.random.Generator, label: int, num_steps: int) -> tuple[list[int], list[int]]:
    """Phase classes and lengths (in steps); the last phase has class ``label``."""
    num_phases = int(rng.integers(1, _MAX_PHASES + 1))
    # Earlier phases get >= 2 steps so their motion is visible; drop phases that do not fit.
    num_phases = max(1, min(num_phases, 1 + (num_steps - _MIN_LAST_STEPS) // 2))
    if label == STILL_LABEL:
        # "staying still" is still throughout: a still last phase after motion could only be
        # told from a moving clip by temporal order, which SGS's similarity ordering discards.
        return [label], [num_steps]
    labels = [label]
    for _ in range(num_phases - 1):
        # Earlier phases mostly hold still; sometimes they move in another direction (never
        # the label's, never the next phase's, or two phases would merge into one).
        if labels[0] != STILL_LABEL and rng.random() < _EARLIER_STILL_PROBABILITY:
            labels.insert(0, STILL_LABEL)
            continue
        candidates = [c for c in range(len(MOTION_CLASS_NAMES)) if c not in (label, labels[0], STILL_LABEL)]
        labels.insert(0, int(rng.choice(candidates)))
    if num_phases == 1:
        return labels, [num_steps]
    # The last phase gets _MIN_LAST_STEPS..(rest) steps (4 steps of 15 need 5 of 16 frames or more).
    last_steps = int(rng.integers(min(_MIN_LAST_STEPS, num_steps), num_steps - 2 * (num_phases - 1) + 1))
    spare = num_steps - last_steps - 2 * (num_phases - 1)
    # Random composition of the spare steps over the earlier phases.
    extra = np.bincount(rng.integers(0, num_phases - 1, size=spare), minlength=num_phases - 1)
    return labels, [2 + int(e) for e in extra] + [last_steps]


def _phase_moves(rng: np.random.Generator, num_steps: int, *, is_last: bool, stop_and_go: bool) -> np.ndarray:
    """Which steps of one moving phase move: bursts separated by exactly repeated frames."""
    moves = np.ones(num_steps, dtype=bool)
    if stop_and_go:
        step = 0
        while step < num_steps:
            step += int(rng.integers(1, 4))  # a burst of motion
            hold = int(rng.integers(1, 5))
            moves[step : step + hold] = False
            step += hold
    # The first step of a phase moves, and (except at the very end) so does its last one:
    # a phase boundary is then visible in the frames, which is what `need` assumes.
    moves[0] = True
    if not is_last:
        moves[-1] = True
    return moves


def make_motion_clip(
    *, rng: np.random.Generator, label: int, num_frames: int = 16, frame_size: int = 32
) -> MotionClip:
    """Render one clip of class ``label`` from ``rng`` (deterministic for a seeded generator).

    ``atfr_lightning.data.synthetic.generator.render_clip`` seeds ``rng`` from ``(seed, split, index)``
    and draws ``label`` from a separate balanced stream.

    Returns:
        A :class:`MotionClip` whose ``frames`` are ``(num_frames, frame_size, frame_size, 3)`` uint8.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2 (motion needs two frames), got {num_frames}")
    if not 0 <= label < len(MOTION_CLASS_NAMES):
        raise ValueError(f"label must be in 0..{len(MOTION_CLASS_NAMES) - 1}, got {label}")
    canvas = 2 * frame_size
    texture = _texture(rng, canvas)
    num_steps = num_frames - 1
    phase_labels, phase_lengths = _phases(rng, label, num_steps)
    speed = float(np.exp(rng.uniform(np.log(_SPEED_RANGE[0]), np.log(_SPEED_RANGE[1]))))
    stop_and_go = bool(rng.random() < _STOP_AND_GO_PROBABILITY)

    step_moves, step_dirs = [], []
    for phase, (phase_label, length) in enumerate(zip(phase_labels, phase_lengths)):
        if phase_label == STILL_LABEL:
            moves = np.zeros(length, dtype=bool)
        else:
            moves = _phase_moves(rng, length, is_last=phase == len(phase_labels) - 1, stop_and_go=stop_and_go)
        step_moves.append(moves)
        step_dirs.append(np.tile(np.array(_DIRECTIONS[phase_label], dtype=float), (length, 1)))
    moves = np.concatenate(step_moves)
    # (T-1, 2) displacement per step -> (T, 2) pattern position; a held step adds exactly 0.0,
    # so held frames get bit-identical positions and so bit-identical pixels.
    displacement = np.concatenate(step_dirs) * speed * moves[:, None]
    positions = rng.uniform(0, canvas, size=2) + np.concatenate([np.zeros((1, 2)), np.cumsum(displacement, axis=0)])

    # Sub-pixel rigid translation by a Fourier phase ramp on the periodic canvas.
    unique_positions, frame_to_unique = np.unique(positions, axis=0, return_inverse=True)
    freqs = np.fft.fftfreq(canvas)
    spectrum = np.fft.fft2(texture)
    ramp_x = np.exp(-2j * np.pi * freqs[None, :] * unique_positions[:, 0:1])  # (U, canvas)
    ramp_y = np.exp(-2j * np.pi * freqs[None, :] * unique_positions[:, 1:2])  # (U, canvas)
    shifted = np.real(np.fft.ifft2(spectrum[None] * ramp_y[:, :, None] * ramp_x[:, None, :]))
    window = shifted[:, :frame_size, :frame_size]  # (U, H, W)

    base = rng.uniform(90, 165)
    tint = base * (1 + rng.uniform(-0.15, 0.15, size=3))
    contrast = rng.uniform(22, 45) * rng.uniform(0.8, 1.2, size=3)
    rgb = tint + contrast * window[..., None]  # (U, H, W, 3)
    frames = np.clip(np.round(rgb), 0, 255).astype(np.uint8)[frame_to_unique.reshape(-1)]

    last_phase_start = num_steps - phase_lengths[-1]
    return MotionClip(
        frames=frames,
        label=label,
        speed=speed,
        moving_fraction=float(moves.mean()),
        num_phases=len(phase_labels),
        phase_labels=tuple(phase_labels),
        last_phase_start=last_phase_start,
        need=compute_need(step_moves=moves, last_phase_start=last_phase_start, still=label == STILL_LABEL),
    )
