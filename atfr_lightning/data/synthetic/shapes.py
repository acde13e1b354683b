"""Drawing helpers shared by the synthetic ``appear`` and ``cue`` tasks (backgrounds, patterns, colours).

Pattern kinds are the class indices both tasks use: 0 horizontal stripes, 1 vertical stripes,
2 checkerboard, 3 ring. Every helper draws from the generator it is given, in a fixed order,
so a seeded generator renders the same pixels.
"""

from __future__ import annotations

import numpy as np


def pattern_mask(kind: int, size: int, period: int, rng: np.random.Generator) -> np.ndarray:
    """Binary (size, size) mask of pattern ``kind`` with stripes/cells ``period`` px wide."""
    yy, xx = np.mgrid[0:size, 0:size]
    phase = int(rng.integers(0, 2 * period))
    if kind == 0:  # horizontal stripes
        return ((yy + phase) // period) % 2 == 0
    if kind == 1:  # vertical stripes
        return ((xx + phase) // period) % 2 == 0
    if kind == 2:  # checkerboard
        return (((yy + phase) // period) + ((xx + phase) // period)) % 2 == 0
    centre = (size - 1) / 2
    radius = np.hypot(yy - centre, xx - centre)
    return (radius // period) % 2 == 0  # ring: concentric bands


def contrasting_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB colours at least 90 grey levels apart in mean brightness."""
    while True:
        a, b = rng.uniform(0, 255, size=(2, 3))
        if abs(a.mean() - b.mean()) >= 90:
            return a, b


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) smooth static background: 3 low-frequency sinusoids, tinted."""
    grid = np.arange(size) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    field = np.zeros((size, size))
    for _ in range(3):
        fy, fx = rng.uniform(-1.5, 1.5, size=2)
        field += rng.uniform(0.3, 1.0) * np.cos(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
    field = field / (np.abs(field).max() + 1e-9)
    tint = rng.uniform(70, 180) * (1 + rng.uniform(-0.2, 0.2, size=3))
    return tint + rng.uniform(15, 35) * field[..., None]
