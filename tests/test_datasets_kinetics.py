"""Kinetics (official CSV, ``path label`` list, class folders) and mini-Kinetics datamodules on tiny copies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from test_datasets_helpers import read_identity, write_video

from atfr_lightning.data import AnnotationError, KineticsDataModule, MiniKineticsDataModule

# Real quirks: spaces and brackets in class names, a quoted field, K400's extra is_cc column.
CLASSES = ["abseiling", "air drumming", "passing American football (in game)", "zumba"]
SMALL = {"num_frames": 4, "sampling_rate": 2, "crop_size": 16, "train_scale": (24, 32), "num_workers": 0}


@dataclass
class KineticsCopy:
    root: Path
    video_of: dict[str, int] = field(default_factory=dict)  # clip name -> identity written in its pixels
    label_of: dict[str, str] = field(default_factory=dict)  # clip name -> class name
    missing: dict[str, list[str]] = field(default_factory=dict)


def _youtube_id(number: int) -> str:
    return f"yt{number:09d}"  # 11 characters, like a real id


def _csv_line(label: str, youtube_id: str, start: int, split: str) -> str:
    quoted = f'"{label}"' if " " in label else label
    return f"{quoted},{youtube_id},{start},{start + 10},{split},0"


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory: pytest.TempPathFactory) -> KineticsCopy:
    copy = KineticsCopy(root=tmp_path_factory.mktemp("kinetics"))
    video_id = 0
    for split, per_class, folder in (("train", 2, "train"), ("val", 1, "val")):
        lines = ["label,youtube_id,time_start,time_end,split,is_cc"]
        copy.missing[split] = []
        for class_number, label in enumerate(CLASSES):
            for repeat in range(per_class):
                youtube_id, start = _youtube_id(video_id), 10 * repeat
                name = f"{youtube_id}_{start:06d}_{start + 10:06d}"
                lines.append(_csv_line(label, youtube_id, start, split))
                copy.video_of[name], copy.label_of[name] = video_id, label
                video_id += 1
                if (split, class_number, repeat) in {("train", 1, 1), ("val", 2, 0)}:
                    copy.missing[split].append(name)  # every real copy misses some videos
                    continue
                # The usual layout for train, class folders with underscores for val.
                label_folder = label if split == "train" else label.replace(" ", "_")
                write_video(copy.root / folder / label_folder / f"{name}.mp4", copy.video_of[name])
        (copy.root / f"{'validate' if split == 'val' else 'train'}.csv").write_bytes(
            ("\r\n".join(lines) + "\r\n").encode()
        )
    return copy


def _items(loader: torch.utils.data.DataLoader) -> list[dict]:
    items = []
    for batch in loader:
        for i in range(len(batch["label"])):
            items.append({key: batch[key][i] for key in ("video", "label", "video_index", "view_index")})
    return items


def _check_items(dm, split: str, items: list[dict], copy: KineticsCopy) -> None:
    dataset = getattr(dm, f"{split}_dataset")
    for item in items:
        name = dataset.records[int(item["video_index"])].path.stem
        identity, frames = read_identity(item["video"])
        assert identity == copy.video_of[name], "the clip comes from the video its index names"
        assert int(item["label"]) == CLASSES.index(copy.label_of[name]), "0-based sorted class index"
        assert len(frames) == 4 and all(0 <= f < 12 for f in frames)


def test_official_csv_layout_labels_and_missing_videos(kinetics: KineticsCopy) -> None:
    dm = KineticsDataModule(video_root=str(kinetics.root), batch_size=3, num_test_clips=2, num_test_crops=3, **SMALL)
    assert dm.class_names == CLASSES and dm.num_classes == 4
    with pytest.warns(UserWarning) as warned:
        dm.setup("fit")
        dm.setup("test")
    messages = [str(w.message) for w in warned]
    for split, counts in (("train", "1 of 8"), ("val", "1 of 4"), ("test", "1 of 4")):
        assert any(f"KineticsDataModule {split}: {counts} listed videos are missing" in m for m in messages), split
    assert dm.missing_videos == {
        "train": kinetics.missing["train"],
        "val": kinetics.missing["val"],
        "test": kinetics.missing["val"],
    }
    assert len(dm.train_dataset) == 7 and len(dm.val_dataset) == 3
    assert len(dm.test_dataset) == 3 * 2 * 3  # videos x clips x crops

    train = _items(dm.train_dataloader())
    assert sorted(int(item["video_index"]) for item in train) == list(range(7))
    assert train[0]["video"].shape == (3, 4, 16, 16)
    _check_items(dm, "train", train, kinetics)
    val = _items(dm.val_dataloader())
    assert [int(item["video_index"]) for item in val] == [0, 1, 2]
    _check_items(dm, "val", val, kinetics)
    test = _items(dm.test_dataloader())
    assert [(int(i["video_index"]), int(i["view_index"])) for i in test] == [(v, w) for v in range(3) for w in range(6)]
    _check_items(dm, "test", test, kinetics)
    # The 2 test clips of a 12-frame video with a 4 x 2 window start at frames 0 and 4.
    assert [read_identity(i["video"])[1] for i in test[:6:3]] == [[0, 2, 5, 7], [4, 6, 9, 11]]


def test_path_label_list_and_class_folders(kinetics: KineticsCopy, tmp_path: Path) -> None:
    present = [name for name in kinetics.video_of if name not in sum(kinetics.missing.values(), [])]
    paths = {p.stem: p.relative_to(kinetics.root) for p in kinetics.root.rglob("*.mp4")}
    train_names = [n for n in present if (kinetics.root / paths[n]).parts[-3] == "train"]
    lines = [f"{paths[n]} {CLASSES.index(kinetics.label_of[n])}  " for n in train_names]  # trailing spaces
    (tmp_path / "train.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (tmp_path / "val.csv").write_text(f"{paths[train_names[0]]} 0\n")
    dm = KineticsDataModule(
        video_root=str(kinetics.root),
        annotation_format="path_label",
        annotation_dir=str(tmp_path),
        train_annotations="train.csv",
        val_annotations="val.csv",
        batch_size=4,
        **SMALL,
    )
    dm.setup("fit")
    assert dm.num_classes == 4 and len(dm.train_dataset) == len(train_names)
    _check_items(dm, "train", _items(dm.train_dataloader()), kinetics)

    folders = KineticsDataModule(
        video_root=str(kinetics.root),
        annotation_format="folders",
        train_annotations="train",
        val_annotations="train",
        **SMALL,
    )
    assert folders.class_names == CLASSES  # folder names with spaces, sorted
    folders.setup("validate")
    names = [Path(r.name).stem for r in folders.val_dataset.records]
    assert sorted(names) == sorted(train_names)
    for item in _items(folders.val_dataloader()):
        record = folders.val_dataset.records[int(item["video_index"])]
        assert int(item["label"]) == CLASSES.index(kinetics.label_of[Path(record.name).stem])
        assert read_identity(item["video"])[0] == kinetics.video_of[Path(record.name).stem]


def test_mini_kinetics_joins_ids_with_k400_annotations(kinetics: KineticsCopy, tmp_path: Path) -> None:
    train_ids = [_youtube_id(n) for n in (0, 1, 4, 5)]  # classes "abseiling" and "passing ..." only
    val_ids = [_youtube_id(n) for n in (8, 10)] + ["yt999999999"]  # the last is in no annotation file
    (tmp_path / "train_ytid_list.txt").write_text("\r\n".join(train_ids) + "\r\n")
    (tmp_path / "val_ytid_list.txt").write_text("\n".join(val_ids) + "\n\n")
    dm = MiniKineticsDataModule(
        video_root=str(kinetics.root),
        annotation_dir=str(tmp_path),
        kinetics_annotations=[str(kinetics.root / "train.csv"), str(kinetics.root / "validate.csv")],
        batch_size=2,
        **SMALL,
    )
    # Re-indexed over the classes of the train ids: 0..1, not their K400 indices 0 and 2.
    assert dm.class_names == ["abseiling", "passing American football (in game)"]
    with pytest.warns(UserWarning, match="missing"):
        dm.setup("validate")
    assert dm.missing_videos["val"] == ["yt999999999 (not in the Kinetics annotations)", kinetics.missing["val"][0]]
    labels = {r.name: r.label for r in dm.val_dataset.records}
    assert labels == {"yt000000008_000000_000010": 0}
    dm.setup("fit")
    assert sorted(r.label for r in dm.train_dataset.records) == [0, 0, 1, 1]
    for item in _items(dm.train_dataloader()):
        record = dm.train_dataset.records[int(item["video_index"])]
        assert read_identity(item["video"])[0] == kinetics.video_of[record.name]


def test_val_label_unknown_to_train_is_an_error(kinetics: KineticsCopy, tmp_path: Path) -> None:
    (tmp_path / "validate.csv").write_text("label,youtube_id,time_start,time_end,split\nyoga,yt000000010,0,10,val\n")
    dm = KineticsDataModule(
        video_root=str(kinetics.root),
        annotation_dir=str(tmp_path),
        train_annotations=str(kinetics.root / "train.csv"),
        **SMALL,
    )
    with pytest.raises(
        AnnotationError, match=r"validate\.csv:2: expected one of the 4 class names .* got label 'yoga'"
    ):
        dm.setup("validate")


@pytest.mark.parametrize(
    ("content", "line", "expected"),
    [
        ("youtube_id,time_start,time_end,split\nabc,0,10,train\n", 1, "header with the columns label, youtube_id"),
        (
            "label,youtube_id,time_start,time_end,split\nzumba,yt000000001,0,10,train\nzumba,short,0,10,train\n",
            3,
            "11-character YouTube id",
        ),
        ("label,youtube_id,time_start,time_end,split\nzumba,yt000000001,zero,10,train\n", 2, "whole number of seconds"),
        ("label,youtube_id,time_start,time_end,split\r\n\r\nzumba,yt000000001,0,10\r\n", 3, "5 comma-separated fields"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path: Path, content: str, line: int, expected: str) -> None:
    (tmp_path / "train.csv").write_text(content)
    (tmp_path / "videos").mkdir()
    dm = KineticsDataModule(video_root=str(tmp_path / "videos"), annotation_dir=str(tmp_path), **SMALL)
    with pytest.raises(AnnotationError) as raised:
        dm.setup("fit")
    assert f"{tmp_path / 'train.csv'}:{line}: expected" in str(raised.value) and expected in str(raised.value)


def test_wrong_root_is_a_clear_error(kinetics: KineticsCopy, tmp_path: Path) -> None:
    dm = KineticsDataModule(video_root=str(tmp_path), annotation_dir=str(kinetics.root), **SMALL)
    with pytest.raises(
        AnnotationError, match=r"none of the 8 videos listed for the train split was found; expected them under"
    ):
        dm.setup("fit")
    missing_csv = KineticsDataModule(video_root=str(kinetics.root), train_annotations="nope.csv", **SMALL)
    with pytest.raises(AnnotationError, match=r"Kinetics annotation CSV not found: .*nope\.csv"):
        missing_csv.setup("fit")
    with pytest.raises(AnnotationError, match=r"Kinetics video root not found: .*absent is not a folder"):
        KineticsDataModule(video_root=str(tmp_path / "absent"), annotation_dir=str(kinetics.root), **SMALL).setup("fit")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"train_scale": (150, 200)},
            "train_scale=(150, 200) is invalid: expected [min, max] integers with crop_size=160",
        ),
        ({"test_scale": 128}, "test_scale=128 is invalid: expected an integer >= crop_size=160"),
        ({"num_test_crops": 4}, "num_test_crops=4 is invalid: expected 1 (centre), 2 or 3"),
        ({"num_frames": 0}, "num_frames=0 is invalid: expected an integer >= 1"),
        ({"batch_size": 0}, "batch_size=0 is invalid"),
        ({"decoder": "opencv"}, "decoder='opencv' is invalid"),
        (
            {"annotation_format": "json"},
            "annotation_format='json' is invalid: expected one of ('csv', 'path_label', 'folders')",
        ),
    ],
)
def test_argument_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        KineticsDataModule(video_root="/nowhere", **kwargs)
    assert message in str(raised.value)
