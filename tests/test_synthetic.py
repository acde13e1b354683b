"""The synthetic action dataset: the three tasks' files, determinism, labels, metadata, `need`, cache and CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from atfr_lightning.data.synthetic import generator as synthetic
from atfr_lightning.data.synthetic.appear import APPEAR_CLASS_NAMES, make_appear_clip
from atfr_lightning.data.synthetic.cue import CUE_CLASS_NAMES, make_cue_clip
from atfr_lightning.data.synthetic.generator import (
    GENERATOR_VERSION,
    MARKER_NAME,
    MIN_FRAME_SIZE,
    NUM_CLASSES,
    TASKS,
    SyntheticParams,
    class_names,
    ensure_synthetic_dataset,
    render_clip,
    render_frames,
)
from atfr_lightning.data.synthetic.motion import MOTION_CLASS_NAMES, compute_need
from atfr_lightning.data.video.decoding import decode_video

SMALL = {"num_train": 10, "num_val": 5, "num_frames": 16, "frame_size": 32, "seed": 0}
EXPECTED_CLASSES = {
    "appear": {"horizontal stripes": 0, "vertical stripes": 1, "checkerboard": 2, "ring": 3, "nothing": 4},
    "cue": {"horizontal stripes": 0, "vertical stripes": 1, "checkerboard": 2, "ring": 3, "cue alone": 4},
    "motion": {"moving up": 0, "moving down": 1, "moving left": 2, "moving right": 3, "staying still": 4},
}
APPEAR_META_FIELDS = {
    "path",
    "label",
    "class_name",
    "onset",
    "event_frames",
    "num_distractors",
    "background_cut",
    "need",
}
CUE_META_FIELDS = {"path", "label", "class_name", "patterns", "cue_onset", "cue_frames", "need", "need_average"}
MOTION_META_FIELDS = {
    "path",
    "label",
    "class_name",
    "speed",
    "moving_fraction",
    "num_phases",
    "phase_labels",
    "last_phase_start",
    "need",
}
NOTHING = 4
CUE_ALONE = 4
STILL = 4


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synthetic")
    return {task: ensure_synthetic_dataset(root=base / task, task=task, **SMALL) for task in TASKS}


def _read_list(path: Path) -> list[tuple[str, int]]:
    rows = []
    for line in path.read_text().splitlines():
        relative, label = line.rsplit(" ", 1)
        rows.append((relative, int(label)))
    return rows


def _read_meta(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _splits() -> tuple[tuple[str, int], ...]:
    return (("train", SMALL["num_train"]), ("val", SMALL["num_val"]))


# --- All tasks: files, balance, decoding, determinism ---------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_layout_and_lists(datasets: dict[str, Path], task: str) -> None:
    dataset = datasets[task]
    for split, count in _splits():
        rows = _read_list(dataset / f"{split}.csv")
        assert [relative for relative, _ in rows] == [f"videos/{split}/{split}_{i:05d}.mp4" for i in range(count)]
        assert all((dataset / relative).is_file() for relative, _ in rows)
        # Every aligned block of 5 clips holds each class once (0-based labels).
        for start in range(0, count, 5):
            assert sorted(label for _, label in rows[start : start + 5]) == [0, 1, 2, 3, 4], (split, start)
    assert json.loads((dataset / "classnames.json").read_text()) == EXPECTED_CLASSES[task]
    assert dict(zip(class_names(task), range(NUM_CLASSES))) == EXPECTED_CLASSES[task]
    assert class_names("appear") == APPEAR_CLASS_NAMES
    assert class_names("cue") == CUE_CLASS_NAMES and class_names("motion") == MOTION_CLASS_NAMES
    # The metadata stays out of the training list.
    assert "need" not in (dataset / "train.csv").read_text()
    marker = json.loads((dataset / MARKER_NAME).read_text())
    assert marker == {"params": {**SMALL, "task": task, "fps": 16}, "generator_version": 3}
    assert GENERATOR_VERSION == 3


@pytest.mark.parametrize("task", TASKS)
def test_decoded_frames_match_rendered(datasets: dict[str, Path], task: str) -> None:
    for split, count in _splits():
        for index in range(count):
            decoded = decode_video(datasets[task] / f"videos/{split}/{split}_{index:05d}.mp4").numpy()
            rendered = render_frames(seed=SMALL["seed"], split=split, index=index, task=task)
            assert decoded.shape == rendered.shape == (16, 32, 32, 3)
            # H.264 at crf 10 is nearly transparent, but RGB -> yuv420p halves the chroma
            # resolution and rounds to 8 bits twice: a couple of grey levels on average
            # (about 1.7 measured on motion clips, 2.0 on appear and 2.1 on cue clips, whose
            # 2-3 px coloured stripes lose most in chroma). 4/255 still fails on any
            # frame-order or shift error, which costs tens of grey levels on these textures.
            error = np.abs(decoded.astype(np.float64) - rendered).mean()
            assert error < 4.0, f"{task} {split} {index}: mean absolute error {error:.2f}"


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_data_other_seed_differs(datasets: dict[str, Path], task: str, tmp_path: Path) -> None:
    dataset = datasets[task]
    again = ensure_synthetic_dataset(root=tmp_path / "again", task=task, **SMALL)
    for name in ("train.csv", "val.csv", "train_meta.jsonl", "val_meta.jsonl", "classnames.json"):
        assert (again / name).read_bytes() == (dataset / name).read_bytes(), name
    # The rendered frames are the deterministic content (byte-identical, checked below). The
    # encoded bitstreams are not: once a process has decoded videos, x264 output for the same
    # frames changes from call to call (measured: up to 1.5 grey levels mean between two
    # encodes). So each copy is compared with the rendered frames, within H.264's rounding.
    for index in range(SMALL["num_train"]):
        relative = f"videos/train/train_{index:05d}.mp4"
        rendered = render_frames(seed=0, split="train", index=index, task=task).astype(np.int16)
        for copy in (dataset, again):
            decoded = decode_video(copy / relative).numpy().astype(np.int16)
            assert decoded.shape == rendered.shape, relative
            assert np.abs(decoded - rendered).mean() < 4.0, relative
    for index in range(SMALL["num_val"]):
        one = render_clip(task=task, seed=0, split="val", index=index, num_frames=16, frame_size=32)
        two = render_clip(task=task, seed=0, split="val", index=index, num_frames=16, frame_size=32)
        np.testing.assert_array_equal(one.frames, two.frames)
        assert one.metadata == two.metadata and one.label == two.label
    other = ensure_synthetic_dataset(root=tmp_path / "other", task=task, **{**SMALL, "seed": 1})
    assert (other / "train_meta.jsonl").read_text() != (dataset / "train_meta.jsonl").read_text()
    assert (other / "train.csv").read_text() != (dataset / "train.csv").read_text()
    seed_one = render_frames(seed=1, split="train", index=3, task=task)
    assert not np.array_equal(seed_one, render_frames(seed=0, split="train", index=3, task=task))


def test_tasks_share_labels_but_not_frames() -> None:
    for index in range(10):
        clips = [
            render_clip(task=task, seed=0, split="train", index=index, num_frames=16, frame_size=32) for task in TASKS
        ]
        assert {clip.label for clip in clips} == {synthetic.clip_label(seed=0, split="train", index=index)}
        for i, one in enumerate(clips):
            for other in clips[i + 1 :]:
                assert not np.array_equal(one.frames, other.frames)
    assert len(APPEAR_CLASS_NAMES) == len(CUE_CLASS_NAMES) == len(MOTION_CLASS_NAMES) == NUM_CLASSES


# --- Patterns (appear and cue tasks) ----------------------------------------------------------


def _classify_patch(patch: np.ndarray) -> int:
    """Pattern index of a ``(s, s, 3)`` two-colour patch, from its pixels alone.

    The four patterns have the same index in the appear and cue tasks (see EXPECTED_CLASSES).
    """
    colours = np.unique(patch.reshape(-1, 3), axis=0)
    assert len(colours) == 2, f"a patch has two colours, found {len(colours)}"
    mask = np.all(patch == colours[0], axis=-1)
    if (mask == mask[:, :1]).all():
        return CUE_CLASS_NAMES.index("horizontal stripes")  # every row is one colour
    if (mask == mask[:1, :]).all():
        return CUE_CLASS_NAMES.index("vertical stripes")
    if (mask == (mask[:, :1] ^ mask[:1, :] ^ mask[0, 0])).all():
        return CUE_CLASS_NAMES.index("checkerboard")  # the XOR of a row and a column pattern
    return CUE_CLASS_NAMES.index("ring")


# --- The appear task ---------------------------------------------------------------------------

# More clips than the files above (rendering only, no encoding): enough of every kind of clip.
APPEAR_RENDERED = (("train", 60), ("val", 40))


def _patterned_change(frames: np.ndarray, shown: int, reference: int) -> tuple[slice, slice] | None:
    """The box where frame ``shown`` differs from frame ``reference``, if it holds a pattern; else None.

    A pattern here is a square of exactly two colours that alternate in 2 px stripes or cells:
    at 32 px a pattern is 10-14 px wide, so it changes colour at least 4 times along some row or
    column. Two plain distractors, one over the other, can also make a two-colour square, but
    with at most 2 changes along any line; a background cut makes a region of many colours.
    """
    changed = np.any(frames[shown] != frames[reference], axis=-1)  # (H, W)
    if not changed.any():
        return None
    ys, xs = np.nonzero(changed)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    region = frames[shown][box]  # (s, s, 3) when it is a patch
    colours = np.unique(region.reshape(-1, 3), axis=0)
    if region.shape[0] != region.shape[1] or len(colours) != 2:
        return None
    mask = np.all(region == colours[0], axis=-1)
    changes = max((mask[:, 1:] != mask[:, :-1]).sum(axis=1).max(), (mask[1:] != mask[:-1]).sum(axis=0).max())
    return box if changes >= 3 else None


def _need_by_slow_loop(pattern_frames: range, num_frames: int) -> int:
    """Smallest k whose frames round(linspace(0, T - 1, k)) include a pattern frame (1 if there is none)."""
    if not pattern_frames:
        return 1  # "nothing": any single frame shows that nothing appears
    return next(
        k
        for k in range(1, num_frames + 1)
        if any(round(x) in pattern_frames for x in np.linspace(0, num_frames - 1, k))  # Python round: half to even
    )


def test_appear_metadata_fields(datasets: dict[str, Path]) -> None:
    dataset = datasets["appear"]
    for split, count in _splits():
        rows = _read_list(dataset / f"{split}.csv")
        meta = _read_meta(dataset / f"{split}_meta.jsonl")
        assert len(meta) == len(rows) == count
        for index, (record, (relative, label)) in enumerate(zip(meta, rows)):
            assert set(record) == APPEAR_META_FIELDS
            assert record["path"] == relative and record["label"] == label
            assert record["class_name"] == APPEAR_CLASS_NAMES[label]
            assert record["num_distractors"] in (0, 1, 2)
            assert record["background_cut"] == -1 or 1 <= record["background_cut"] < 16
            if label == NOTHING:
                assert (record["onset"], record["event_frames"], record["need"]) == (-1, 0, 1)
            else:
                assert 1 <= record["event_frames"] <= 16
                assert 0 <= record["onset"] and record["onset"] + record["event_frames"] <= 16
                assert 1 <= record["need"] <= 16
            # The record is what render_clip reports for the same clip.
            clip = render_clip(task="appear", seed=0, split=split, index=index, num_frames=16, frame_size=32)
            assert {"path": relative, **clip.metadata} == record


def test_appear_label_from_frames() -> None:
    """The label follows from the pixels: the patch that appears at the recorded frames, and its pattern."""
    checked = with_pattern = nothing = 0
    for split, count in APPEAR_RENDERED:
        for index in range(count):
            clip = render_clip(task="appear", seed=0, split=split, index=index, num_frames=16, frame_size=32)
            frames, meta, label = clip.frames, clip.metadata, clip.label
            num_frames = len(frames)
            if label == NOTHING:
                nothing += 1
                assert (meta["onset"], meta["event_frames"]) == (-1, 0)
                # Distractors come and go and the background may cut, but no change between two
                # consecutive frames, in either direction, reveals a patterned patch.
                for t in range(1, num_frames):
                    assert _patterned_change(frames, t, t - 1) is None, (split, index, t)
                    assert _patterned_change(frames, t - 1, t) is None, (split, index, t)
                continue
            with_pattern += 1
            onset, end = meta["onset"], meta["onset"] + meta["event_frames"]
            # The event's first frame against the frame before it, its last against the frame after.
            boundaries = [(onset, onset - 1)] if onset > 0 else []
            boundaries += [(end - 1, end)] if end < num_frames else []
            boxes = [box for box in (_patterned_change(frames, *pair) for pair in boundaries) if box is not None]
            # A distractor or the background cut changing at the same frame hides the patch's
            # outline; without distractors, a boundary away from the cut must show it.
            quiet = meta["num_distractors"] == 0 and any(meta["background_cut"] != max(pair) for pair in boundaries)
            assert boxes or not quiet, (split, index, meta)
            for box in boxes:
                patch = frames[onset][box]
                assert _classify_patch(patch) == label, (split, index, meta)
                # Static while shown, and shown in exactly the recorded frames.
                showing = [t for t in range(num_frames) if np.array_equal(frames[t][box], patch)]
                assert showing == list(range(onset, end)), (split, index, showing, meta)
            checked += bool(boxes)
    # Most patches are read off the pixels (measured: 74 of 80; the others start at frame 0
    # and last the whole clip, or share both boundaries with a distractor or the cut).
    assert nothing == 20 and with_pattern == 80
    assert checked >= 0.85 * with_pattern, (checked, with_pattern)


def test_appear_need_by_slow_loop() -> None:
    needs = []
    for split, count in APPEAR_RENDERED:
        for index in range(count):
            meta = render_clip(task="appear", seed=0, split=split, index=index, num_frames=16, frame_size=32).metadata
            # The pattern frames are the recorded ones (test_appear_label_from_frames checks them
            # against the pixels); empty for "nothing".
            pattern_frames = range(meta["onset"], meta["onset"] + meta["event_frames"])
            need = _need_by_slow_loop(pattern_frames, 16)
            assert meta["need"] == need, (split, index, meta)
            needs.append(need)
    # 1-frame events anywhere in the clip, long ones too: `need` varies from clip to clip.
    assert len(set(needs)) > 4 and max(needs) > 4, sorted(needs)


def test_short_appear_clips_stay_consistent() -> None:
    # T = 2, 3 at the smallest frame size: the event still fits in the clip, `need` still follows the definition.
    for num_frames in (2, 3):
        for index in range(20):
            clip = render_clip(task="appear", seed=0, split="train", index=index, num_frames=num_frames, frame_size=16)
            assert clip.frames.shape == (num_frames, 16, 16, 3) and clip.frames.dtype == np.uint8
            onset, length = clip.metadata["onset"], clip.metadata["event_frames"]
            if clip.label == NOTHING:
                assert (onset, length) == (-1, 0)
            else:
                assert 0 <= onset and 1 <= length and onset + length <= num_frames
            assert clip.metadata["need"] == _need_by_slow_loop(range(onset, onset + length), num_frames)


def test_make_appear_clip_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="frame_size >= 16, got 14"):
        make_appear_clip(rng=rng, label=0, num_frames=16, frame_size=14)
    with pytest.raises(ValueError, match="label must be in 0..4, got 5"):
        make_appear_clip(rng=rng, label=5)
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        make_appear_clip(rng=rng, label=0, num_frames=0)


# --- The cue task ------------------------------------------------------------------------------


def _cue_frames_from_pixels(frames: np.ndarray) -> tuple[list[int], np.ndarray, int | None]:
    """Read the cue off the right half: (frames showing it, its pixel mask, background cut or None).

    The cue is a disk of pure grey 250 or 5, in the right half only. The smooth tinted
    background stays above 20 and reaches grey 250 in all three channels only if its tint
    and brightness are all at their maxima at once; the patterns stay in the left half.
    """
    num_frames, _, width, _ = frames.shape
    right = frames[:, :, width // 2 :].astype(np.int64)  # (T, H, W/2, 3)
    grey = np.all(right == right[..., :1], axis=-1)
    cue_colour = grey & ((right[..., 0] == 250) | (right[..., 0] == 5))  # (T, H, W/2)
    cue = [t for t in range(num_frames) if cue_colour[t].any()]
    assert cue, "no cue in the clip"
    disk = cue_colour[cue[0]]
    # The disk is static: the same pixels in every cue frame.
    assert all(np.array_equal(cue_colour[t], disk) for t in cue)
    # Outside the disk the right half is a static background with at most one cut.
    changes = [t for t in range(1, num_frames) if not np.array_equal(right[t][~disk], right[t - 1][~disk])]
    assert len(changes) <= 1, f"the background changes at frames {changes}"
    # Outside the cue frames, the disk's pixels are background too: consecutive frames
    # without the cue differ only at the cut.
    plain = [t for t in range(num_frames) if t not in cue]
    for before, after in zip(plain, plain[1:]):
        if not np.array_equal(right[before], right[after]):
            assert changes and before < changes[0] <= after
    return cue, disk, changes[0] if changes else None


def test_cue_metadata_fields(datasets: dict[str, Path]) -> None:
    dataset = datasets["cue"]
    for split, count in _splits():
        rows = _read_list(dataset / f"{split}.csv")
        meta = _read_meta(dataset / f"{split}_meta.jsonl")
        assert len(meta) == len(rows) == count
        for index, (record, (relative, label)) in enumerate(zip(meta, rows)):
            assert set(record) == CUE_META_FIELDS
            assert record["path"] == relative and record["label"] == label
            assert record["class_name"] == CUE_CLASS_NAMES[label]
            assert 1 <= record["cue_frames"] <= 3
            assert 0 <= record["cue_onset"] and record["cue_onset"] + record["cue_frames"] <= 16
            assert 1 <= record["need"] <= 16 and 1 <= record["need_average"] <= 16
            assert 16 % record["need_average"] == 0
            # Distinct patterns, in time order, inside the clip and never overlapping.
            kinds = [kind for kind, _, _ in record["patterns"]]
            assert len(set(kinds)) == len(kinds) and all(0 <= kind < 4 for kind in kinds)
            end = 0
            for _kind, onset, duration in record["patterns"]:
                assert onset >= end and duration >= 1, (split, index, record["patterns"])
                end = onset + duration
            assert end <= 16
            # The record is what render_clip reports for the same clip.
            clip = render_clip(task="cue", seed=0, split=split, index=index, num_frames=16, frame_size=32)
            assert {"path": relative, **clip.metadata} == record


def test_cue_label_from_frames() -> None:
    """The label follows from the pixels: the cue's frames, the patterns shown with it, their kinds."""
    kinds_checked = kinds_total = 0
    for split, count in _splits():
        for index in range(count):
            clip = render_clip(task="cue", seed=0, split=split, index=index, num_frames=16, frame_size=32)
            frames, meta, label = clip.frames, clip.metadata, clip.label
            num_frames, width = frames.shape[0], frames.shape[2]
            cue, _, cut = _cue_frames_from_pixels(frames)
            # The cue's pixels differ from the background exactly in the recorded cue frames.
            assert cue == list(range(meta["cue_onset"], meta["cue_onset"] + meta["cue_frames"])), (split, index)

            shown = np.full(num_frames, -1)
            for kind, onset, duration in meta["patterns"]:
                shown[onset : onset + duration] = kind
            # Exactly the label's pattern is on during the cue (none for "cue alone").
            expected = set() if label == CUE_ALONE else {label}
            assert {int(shown[t]) for t in cue} - {-1} == expected and len({int(shown[t]) for t in cue}) == 1

            # The recorded patterns match the left half: it changes exactly where a display
            # starts or ends, or at the background cut read off the right half.
            left = frames[:, :, : width // 2]
            for t in range(1, num_frames):
                same = np.array_equal(left[t], left[t - 1])
                assert same == (shown[t] == shown[t - 1] and t != cut), (split, index, t)
            # And their kinds match the pixels: a patch is where a frame differs from a frame
            # showing nothing on the same background.
            segment = [0 if cut is None or t < cut else 1 for t in range(num_frames)]
            for kind, onset, _ in meta["patterns"]:
                kinds_total += 1
                blank = [t for t in range(num_frames) if shown[t] == -1 and segment[t] == segment[onset]]
                if not blank:  # no frame without a pattern on this background: nothing to compare to
                    continue
                ys, xs = np.nonzero(np.any(left[onset] != left[blank[0]], axis=-1))
                patch = left[onset, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
                assert patch.shape[0] == patch.shape[1], (split, index, patch.shape)
                assert _classify_patch(patch) == kind, (split, index, kind)
                kinds_checked += 1
    assert kinds_checked >= 0.75 * kinds_total, (kinds_checked, kinds_total)


def test_cue_need_and_need_average_by_slow_loops(datasets: dict[str, Path]) -> None:
    needs, need_averages = [], []
    for split, _ in _splits():
        for index, record in enumerate(_read_meta(datasets["cue"] / f"{split}_meta.jsonl")):
            frames = render_frames(seed=0, split=split, index=index, task="cue")
            num_frames = len(frames)
            cue, _, _ = _cue_frames_from_pixels(frames)
            # need: smallest k whose frames round(linspace(0, T - 1, k)) include a cue frame.
            need = next(
                k
                for k in range(1, num_frames + 1)
                if any(round(x) in cue for x in np.linspace(0, num_frames - 1, k))  # Python round: half to even
            )
            assert record["need"] == need, (split, index)
            # need_average: smallest k dividing T such that each of the k equal windows that
            # holds a cue frame shows no pattern but the label's (none for "cue alone").
            allowed = set() if record["label"] == CUE_ALONE else {record["label"]}
            need_average = None
            for k in range(1, num_frames + 1):
                if num_frames % k:
                    continue
                width = num_frames // k
                good = True
                for window in range(k):
                    frames_in_window = range(window * width, (window + 1) * width)
                    if not any(t in cue for t in frames_in_window):
                        continue
                    patterns_in_window = {
                        kind
                        for kind, onset, duration in record["patterns"]
                        for t in frames_in_window
                        if onset <= t < onset + duration
                    }
                    good = good and patterns_in_window <= allowed
                if good:
                    need_average = k
                    break
            assert record["need_average"] == need_average, (split, index)
            needs.append(need)
            need_averages.append(need_average)
    # The small set already spans several values of both (they vary per clip).
    assert len(set(needs)) > 2 and len(set(need_averages)) > 1, (needs, need_averages)


def test_make_cue_clip_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="frame_size >= 24 .*got 16"):
        make_cue_clip(rng=rng, label=0, num_frames=16, frame_size=16)
    with pytest.raises(ValueError, match="label must be in 0..4, got 5"):
        make_cue_clip(rng=rng, label=5)
    with pytest.raises(ValueError, match="num_frames >= 2"):
        make_cue_clip(rng=rng, label=0, num_frames=1)


def test_short_cue_clips_stay_consistent() -> None:
    # Fewer frames than patterns (T = 2, 3): displays still never overlap and the cue still fits.
    for num_frames in (2, 3):
        for index in range(20):
            clip = render_clip(task="cue", seed=0, split="train", index=index, num_frames=num_frames, frame_size=24)
            end = 0
            for _, onset, duration in clip.metadata["patterns"]:
                assert onset >= end and duration >= 1
                end = onset + duration
            assert end <= num_frames
            cue, _, _ = _cue_frames_from_pixels(clip.frames)
            onset, length = clip.metadata["cue_onset"], clip.metadata["cue_frames"]
            assert cue == list(range(onset, onset + length))


# --- The motion task ---------------------------------------------------------------------------


def test_motion_metadata_fields_and_need_from_frames(datasets: dict[str, Path]) -> None:
    rows = _read_list(datasets["motion"] / "train.csv")
    meta = _read_meta(datasets["motion"] / "train_meta.jsonl")
    assert len(meta) == len(rows)
    for index, (record, (relative, label)) in enumerate(zip(meta, rows)):
        assert set(record) == MOTION_META_FIELDS
        assert record["path"] == relative and record["label"] == label
        assert record["class_name"] == MOTION_CLASS_NAMES[label]
        assert 0.5 <= record["speed"] <= 3.0
        assert 0.0 <= record["moving_fraction"] <= 1.0
        assert 1 <= record["num_phases"] <= 3
        assert record["phase_labels"][-1] == label
        # Independent check of `need` on the rendered pixels, straight from the definition.
        frames = render_frames(seed=0, split="train", index=index, task="motion")
        num_frames, start = len(frames), record["last_phase_start"]
        need = None
        for k in range(1, num_frames + 1):
            sampled = [round(x) for x in np.linspace(0, num_frames - 1, k)]  # Python round: half to even too
            for i, j in zip(sampled, sampled[1:]):
                identical = np.array_equal(frames[i], frames[j])
                if i >= start and identical == (label == STILL):
                    need = k
                    break
            if need is not None:
                break
        assert record["need"] == need
        # moving_fraction counts the steps whose frames change.
        changed = np.mean([not np.array_equal(a, b) for a, b in zip(frames[:-1], frames[1:])])
        assert record["moving_fraction"] == pytest.approx(changed, abs=1e-6)


def test_need_on_hand_made_phases() -> None:
    # 16 frames, 15 steps. Samples round(linspace(0, 15, k)):
    #   k=2 [0,15]  k=3 [0,8,15]  k=4 [0,5,10,15]  k=5 [0,4,8,11,15]  k=6 [0,3,6,9,12,15]
    always = [True] * 15
    assert compute_need(step_moves=always, last_phase_start=0, still=False) == 2
    assert compute_need(step_moves=[False] * 15, last_phase_start=0, still=True) == 2
    # Last phase = frames 12..15: the first pair inside it is (12, 15) at k=6.
    assert compute_need(step_moves=always, last_phase_start=12, still=False) == 6
    # Last phase from frame 9, moving only on step 9 (frame 9 -> 10), then held:
    # k=4 gives (10, 15) identical, k=5 gives (11, 15) identical, k=6 gives (9, 12) which moves.
    stop_and_go = [True] * 9 + [True, False, False, False, False, False]
    assert compute_need(step_moves=stop_and_go, last_phase_start=9, still=False) == 6
    # The same frames read as "staying still" from frame 10: (10, 15) at k=4 is identical.
    assert compute_need(step_moves=stop_and_go, last_phase_start=10, still=True) == 4
    # A one-step last phase needs samples 14 and 15: k=11 is the first with step 1.5.
    assert compute_need(step_moves=always, last_phase_start=14, still=False) == 11
    with pytest.raises(ValueError, match="not determined"):
        compute_need(step_moves=[False] * 15, last_phase_start=12, still=False)


def test_motion_rendering_properties() -> None:
    clip = render_clip(task="motion", seed=3, split="train", index=7, num_frames=16, frame_size=32)
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (16, 32, 32, 3)
    assert clip.metadata["need"] <= 16
    # Held steps repeat the frame exactly; moving steps change it.
    steps = [not np.array_equal(a, b) for a, b in zip(clip.frames[:-1], clip.frames[1:])]
    assert np.mean(steps) == pytest.approx(clip.metadata["moving_fraction"], abs=1e-6)


def test_motion_still_clips_do_not_move_at_the_end() -> None:
    for index in range(40):
        clip = render_clip(task="motion", seed=0, split="val", index=index, num_frames=16, frame_size=32)
        tail = clip.frames[clip.metadata["last_phase_start"] :]
        if clip.label == STILL:
            assert all(np.array_equal(tail[0], frame) for frame in tail)
        else:
            assert not np.array_equal(tail[0], tail[-1])


# --- Cache, atomic writing, parameters, CLI ----------------------------------------------------


def test_cache_hit_does_not_regenerate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATFR_CACHE_DIR", str(tmp_path / "cache"))
    params = {**SMALL, "num_train": 5, "num_val": 5}
    calls = []
    real_generate = synthetic._generate_into
    monkeypatch.setattr(synthetic, "_generate_into", lambda *a, **k: (calls.append(1), real_generate(*a, **k)))
    first = ensure_synthetic_dataset(**params)
    assert first.parent == tmp_path / "cache" / "synthetic"
    assert first.name == SyntheticParams(**params).cache_key() == SyntheticParams(task="appear", **params).cache_key()
    marker_mtime = (first / MARKER_NAME).stat().st_mtime_ns
    second = ensure_synthetic_dataset(**params)
    assert second == first and calls == [1]
    assert (first / MARKER_NAME).stat().st_mtime_ns == marker_mtime
    # Other parameters get another folder; so does another task.
    third = ensure_synthetic_dataset(**{**params, "seed": 2})
    assert third != first and calls == [1, 1]
    motion = ensure_synthetic_dataset(**params, task="motion")
    assert motion not in (first, third) and calls == [1, 1, 1]
    assert json.loads((motion / "classnames.json").read_text()) == EXPECTED_CLASSES["motion"]


def test_cache_key_differs_between_tasks() -> None:
    assert TASKS == ("appear", "cue", "motion")
    keys = {task: SyntheticParams(task=task).cache_key() for task in TASKS}
    assert len(set(keys.values())) == len(TASKS), keys
    # The default task is the appear task.
    assert SyntheticParams().task == "appear" and SyntheticParams().cache_key() == keys["appear"]


def test_interrupted_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = synthetic.write_mp4
    written = []

    def write_then_fail(path: Path, frames: np.ndarray, *, fps: int) -> None:
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, frames, fps=fps)

    monkeypatch.setattr(synthetic, "write_mp4", write_then_fail)
    root = tmp_path / "set"
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_dataset(root=root, **SMALL)
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []  # the partial folder is removed too
    monkeypatch.setattr(synthetic, "write_mp4", real_write)
    assert (ensure_synthetic_dataset(root=root, **SMALL) / MARKER_NAME).is_file()


def test_refuses_to_overwrite_other_content(datasets: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(FileExistsError, match="delete that folder"):
        ensure_synthetic_dataset(root=datasets["appear"], **{**SMALL, "seed": 5})
    # The same parameters for another task are other content too.
    for task in ("cue", "motion"):
        with pytest.raises(FileExistsError, match="delete that folder"):
            ensure_synthetic_dataset(root=datasets["appear"], task=task, **SMALL)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="other files"):
        ensure_synthetic_dataset(root=tmp_path / "busy", **SMALL)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_frames": 1}, "num_frames must be an integer >= 2, got 1"),
        ({"frame_size": 33}, "frame_size must be an even integer >= 16"),
        # 16 px, the smallest size of every task, is also the appear task's own minimum.
        ({"task": "appear", "frame_size": 14}, "frame_size must be an even integer >= 16"),
        ({"num_train": 0}, "num_train must be an integer >= 1, got 0"),
        ({"task": "colour"}, "task must be one of 'appear', 'cue', 'motion', got 'colour'"),
        (
            {"task": "cue", "frame_size": 16},
            "frame_size must be >= 24 for task 'cue', got 16: use a larger frame_size or another task "
            "(smallest frame_size per task: appear 16, cue 24, motion 16)",
        ),
    ],
)
def test_parameter_errors(overrides: dict[str, int | str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ensure_synthetic_dataset(root=tmp_path / "x", **{**SMALL, **overrides})
    assert not (tmp_path / "x").exists()


def test_smallest_frame_size_per_task() -> None:
    assert MIN_FRAME_SIZE == {"appear": 16, "cue": 24, "motion": 16}
    for task, size in MIN_FRAME_SIZE.items():
        assert SyntheticParams(task=task, frame_size=size).frame_size == size
        frames = render_frames(seed=0, split="train", index=0, num_frames=4, frame_size=size, task=task)
        assert frames.shape == (4, size, size, 3)


def test_bad_task_is_named_everywhere() -> None:
    with pytest.raises(ValueError, match="'colour'"):
        SyntheticParams(task="colour")
    with pytest.raises(ValueError, match="'colour'"):
        class_names("colour")
    with pytest.raises(ValueError, match="'colour'"):
        render_clip(task="colour", seed=0, split="train", index=0, num_frames=16, frame_size=32)
    with pytest.raises(ValueError, match="'colour'"):
        render_frames(seed=0, split="train", index=0, task="colour")
    # frame_size 16 is fine for the appear and motion tasks.
    assert SyntheticParams(task="motion", frame_size=16).frame_size == 16
    assert SyntheticParams(task="appear", frame_size=16).frame_size == 16


def test_cli_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--root", str(tmp_path / "cli"), "--task", "motion", "--num-train", "5", "--num-val", "5"]
    argv += ["--num-frames", "8", "--frame-size", "16", "--seed", "4"]
    assert synthetic.main(argv) == 0
    assert "synthetic dataset (motion task) ready" in capsys.readouterr().out
    marker = json.loads((tmp_path / "cli" / MARKER_NAME).read_text())
    assert marker["params"] == {
        "task": "motion",
        "num_train": 5,
        "num_val": 5,
        "num_frames": 8,
        "frame_size": 16,
        "fps": 16,
        "seed": 4,
    }
    assert decode_video(tmp_path / "cli" / "videos/val/val_00004.mp4").shape == (8, 16, 16, 3)
    with pytest.raises(SystemExit):
        synthetic.main(["--root", str(tmp_path / "bad"), "--num-frames", "1"])
    assert "num_frames must be an integer >= 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synthetic.main(["--root", str(tmp_path / "bad"), "--task", "colour"])
    assert "invalid choice: 'colour'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the cue task needs 24 px
        synthetic.main(["--root", str(tmp_path / "bad"), "--task", "cue", "--frame-size", "16"])
    assert "frame_size must be >= 24 for task 'cue'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_module_command(tmp_path: Path) -> None:
    root = tmp_path / "from shell"
    result = subprocess.run(
        [sys.executable, "-m", "atfr_lightning.data.synthetic", "--root", str(root)]
        + ["--num-train", "5", "--num-val", "5"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" not in result.stderr  # no double import of the module by runpy
    assert len(_read_list(root / "train.csv")) == 5 and len(_read_list(root / "val.csv")) == 5
    # The default task is the appear task.
    assert json.loads((root / "classnames.json").read_text()) == EXPECTED_CLASSES["appear"]
    assert set(_read_meta(root / "train_meta.jsonl")[0]) == APPEAR_META_FIELDS
