"""UCF101 and HMDB51 datamodules on tiny copies of the official layouts and split files."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_datasets_helpers import UCF_CLASSES, read_identity, ucf_file, write_ucf101, write_video

from atfr_lightning.data import AnnotationError, HMDB51DataModule, UCF101DataModule

SMALL = {
    "num_frames": 4,
    "sampling_rate": 2,
    "crop_size": 16,
    "train_scale": (16, 20),
    "batch_size": 4,
    "num_workers": 0,
}


@pytest.fixture(scope="module")
def ucf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("ucf")
    return root, write_ucf101(root)


def _check(dm, split: str, identity: dict[str, int], label_of) -> list[str]:
    dataset = getattr(dm, f"{split}_dataset")
    names = []
    for batch in getattr(dm, f"{split}_dataloader")():
        for video, label, index in zip(batch["video"], batch["label"], batch["video_index"]):
            record = dataset.records[int(index)]
            assert read_identity(video)[0] == identity[record.name]
            assert int(label) == label_of(record.name)
            names.append(record.name)
    return names


@pytest.mark.parametrize("split", [1, 2])
def test_ucf101_splits_and_zero_based_labels(ucf: tuple[Path, dict[str, int]], split: int) -> None:
    root, identity = ucf
    dm = UCF101DataModule(
        video_root=str(root / "UCF-101"),
        annotation_dir=str(root / "ucfTrainTestlist"),
        split=split,
        num_test_clips=2,
        **SMALL,
    )
    assert dm.class_names == UCF_CLASSES
    dm.setup("fit")
    dm.setup("test")

    def label_of(name: str) -> int:
        return UCF_CLASSES.index(name.split("/")[0])

    train = _check(dm, "train", identity, label_of)
    assert sorted(train) == sorted(ucf_file(c, g) for c in UCF_CLASSES for g in (1, 2, 3) if g != split)
    assert _check(dm, "val", identity, label_of) == [ucf_file(c, split) for c in UCF_CLASSES]
    test = _check(dm, "test", identity, label_of)
    assert len(test) == 3 * 2 * 3  # videos x clips x crops
    # v_HandStandPushups_* files get the HandstandPushups label (1), taken from the folder.
    assert {r.label for r in dm.train_dataset.records if "HandStandPushups" in r.name} == {1}


def test_ucf101_errors(ucf: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = ucf
    with pytest.raises(ValueError, match="split=4 is invalid: UCF101 has the official splits 1, 2 and 3"):
        UCF101DataModule(video_root=str(root), annotation_dir=str(root), split=4)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "classInd.txt").write_bytes((root / "ucfTrainTestlist" / "classInd.txt").read_bytes())
    (lists / "trainlist01.txt").write_bytes(f"{ucf_file('YoYo', 1)} 3\r\n{ucf_file('YoYo', 2)} 1\r\n".encode())
    dm = UCF101DataModule(video_root=str(root / "UCF-101"), annotation_dir=str(lists), **SMALL)
    with pytest.raises(AnnotationError, match=r"trainlist01\.txt:2: expected class index 3 of folder 'YoYo'"):
        dm.setup("fit")
    (lists / "trainlist01.txt").write_text("Juggling/v_Juggling_g01_c01.avi 1\n")
    with pytest.raises(
        AnnotationError, match=r"trainlist01\.txt:1: expected a class folder listed in classInd.txt, not 'Juggling'"
    ):
        UCF101DataModule(video_root=str(root / "UCF-101"), annotation_dir=str(lists), **SMALL).setup("fit")
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\nApplyLipstick\n")
    with pytest.raises(AnnotationError, match=r"classInd\.txt:2: expected '<1-based class index> <ClassName>'"):
        UCF101DataModule(video_root=str(root), annotation_dir=str(lists)).num_classes  # noqa: B018 - reads the lists


HMDB_CLASSES = ["brush_hair", "cartwheel", "ride_bike"]


@pytest.fixture(scope="module")
def hmdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("hmdb")
    identity = {}
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir()
    for class_name in HMDB_CLASSES:
        names = [f"{class_name}_clip_{i}.avi" for i in range(4)]
        for name in names:
            identity[f"{class_name}/{name}"] = len(identity)
            write_video(root / "videos" / class_name / name, identity[f"{class_name}/{name}"])
        for split in (1, 2, 3):
            # Clip i is test (2) in split i, clip 3 is unused (0) in split 2, the rest are train (1).
            tags = [2 if i == split else 0 if i == 3 and split == 2 else 1 for i in range(4)]
            lines = "".join(f"{name} {tag} \r\n" for name, tag in zip(names, tags))  # the trailing space is real
            (splits / f"{class_name}_test_split{split}.txt").write_bytes(lines.encode())
    return root, identity


@pytest.mark.parametrize("split", [1, 2])
def test_hmdb51_splits_and_zero_based_labels(hmdb: tuple[Path, dict[str, int]], split: int) -> None:
    root, identity = hmdb
    dm = HMDB51DataModule(
        video_root=str(root / "videos"), annotation_dir=str(root / "testTrainMulti_7030_splits"), split=split, **SMALL
    )
    assert dm.class_names == HMDB_CLASSES

    def label_of(name: str) -> int:
        return HMDB_CLASSES.index(name.split("/")[0])

    dm.setup("fit")
    train = _check(dm, "train", identity, label_of)
    train_clips = [i for i in range(4) if i != split and not (i == 3 and split == 2)]
    assert sorted(train) == sorted(f"{c}/{c}_clip_{i}.avi" for c in HMDB_CLASSES for i in train_clips)
    assert _check(dm, "val", identity, label_of) == [f"{c}/{c}_clip_{split}.avi" for c in HMDB_CLASSES]


def test_hmdb51_errors(hmdb: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    root, _ = hmdb
    with pytest.raises(AnnotationError, match=r"expected files named <class>_test_split1.txt .* found none"):
        HMDB51DataModule(video_root=str(root), annotation_dir=str(tmp_path), **SMALL).setup("fit")
    (tmp_path / "cartwheel_test_split1.txt").write_text("a.avi 1 \nb.avi 3 \n")
    with pytest.raises(AnnotationError, match=r"cartwheel_test_split1\.txt:2: expected '<video>.avi <0\|1\|2>'"):
        HMDB51DataModule(video_root=str(root), annotation_dir=str(tmp_path), **SMALL).setup("fit")
