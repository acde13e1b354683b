"""Something-Something V2 datamodule on a tiny copy: JSON files, bracket templates, webm and frame folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_datasets_helpers import read_identity, write_frame_folder, write_video

from atfr_lightning.data import AnnotationError, SSv2DataModule
from atfr_lightning.data.video.transforms import horizontal_flip, random_horizontal_flip

LABELS = {
    "Approaching something with your camera": "0",
    "Moving something from left to right": "1",
    "Pretending to put something next to something": "2",
    "Putting something similar to other things that are already on the table": "3",
}
TEMPLATES = [
    "Approaching [something] with your camera",
    "Moving [something] from left to right",
    "Pretending to put [something] next to [something]",
    "Putting [something similar to other things that are already on the table]",
]
SMALL = {"num_frames": 4, "crop_size": 16, "train_scale": (24, 32), "batch_size": 3, "num_workers": 0}


def _entry(video_id: int, class_id: int) -> dict:
    return {
        "id": str(video_id),
        "label": f"object {video_id}",
        "template": TEMPLATES[class_id],
        "placeholders": ["a cup"],
    }


@pytest.fixture(scope="module")
def ssv2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ssv2")
    (root / "something-something-v2-labels.json").write_text(json.dumps(LABELS, indent=4))
    train = [_entry(100 + i, i % 4) for i in range(6)]
    val = [_entry(200 + i, (i + 1) % 4) for i in range(3)]
    (root / "something-something-v2-train.json").write_text(json.dumps(train, indent=4))
    (root / "something-something-v2-validation.json").write_text(json.dumps(val, indent=4))
    (root / "something-something-v2-test.json").write_text(json.dumps([{"id": "300"}]))
    videos = root / "20bn-something-something-v2"
    for number, entry in enumerate(train + val):
        # Odd ones as frame folders (the usual 30 fps conversion), even ones as the original webm.
        if number % 2:
            write_frame_folder(videos / entry["id"], number)
        else:
            write_video(videos / f"{entry['id']}.webm", number)
    return root


def _module(root: Path, **overrides: object) -> SSv2DataModule:
    return SSv2DataModule(
        video_root=str(root / "20bn-something-something-v2"), annotation_dir=str(root), **{**SMALL, **overrides}
    )


def test_labels_and_clips_from_webm_and_frame_folders(ssv2: Path) -> None:
    dm = _module(ssv2)
    assert dm.class_names == list(LABELS) and dm.num_classes == 4
    dm.setup("fit")
    dm.setup("test")
    kinds = {r.name: r.path.is_dir() for r in dm.train_dataset.records}
    assert kinds == {"100": False, "101": True, "102": False, "103": True, "104": False, "105": True}
    for split, offset, count, first_class in (("train", 0, 6, 0), ("val", 6, 3, 1), ("test", 6, 3, 1)):
        dataset = getattr(dm, f"{split}_dataset")
        loader = getattr(dm, f"{split}_dataloader")()
        seen = set()
        for batch in loader:
            for video, label, index, view in zip(
                batch["video"], batch["label"], batch["video_index"], batch["view_index"]
            ):
                identity, frames = read_identity(video)
                assert identity == offset + int(index)  # the written order
                assert int(label) == (int(index) + first_class) % 4
                if split == "val":
                    # One frame per segment of 3: the middle ones.
                    assert frames == [1, 4, 7, 10]
                seen.add((int(index), int(view)))
        assert len(seen) == len(dataset) == count * (3 if split == "test" else 1)


def test_never_flips_and_samples_one_frame_per_segment(ssv2: Path) -> None:
    dm = _module(ssv2)
    dm.setup("fit")
    steps = [getattr(step, "func", step) for step in dm.train_dataset.transform.transforms]
    assert random_horizontal_flip not in steps and horizontal_flip not in steps  # "left to right" must stay
    for epoch in range(3):
        dm.train_dataset.set_epoch(epoch)
        frames = read_identity(dm.train_dataset[1]["video"])[1]
        assert [f // 3 for f in frames] == [0, 1, 2, 3]  # one random frame in each segment
    with pytest.raises(ValueError, match="sampling_rate=2 does not apply to SSv2"):
        _module(ssv2, sampling_rate=2)


def test_template_not_in_labels_names_file_line_and_closest(ssv2: Path, tmp_path: Path) -> None:
    for name in ("something-something-v2-labels.json", "something-something-v2-train.json"):
        (tmp_path / name).write_text((ssv2 / name).read_text())
    entries = json.loads((ssv2 / "something-something-v2-train.json").read_text())
    entries[4]["template"] = "Moving [something] from left to rigth"
    path = tmp_path / "something-something-v2-validation.json"
    path.write_text(json.dumps(entries, indent=4))
    line = path.read_text().splitlines().index('        "id": "104",') + 1
    dm = SSv2DataModule(video_root=str(ssv2 / "20bn-something-something-v2"), annotation_dir=str(tmp_path), **SMALL)
    with pytest.raises(AnnotationError) as raised:
        dm.setup("validate")
    message = str(raised.value)
    assert f"{path}:{line}: expected a template of the labels file for video 104" in message
    assert "closest: ['Moving something from left to right'" in message


def test_malformed_json_and_unlabelled_test_file(ssv2: Path, tmp_path: Path) -> None:
    (tmp_path / "something-something-v2-labels.json").write_text('{\n  "Approaching something": "0",\n  "oops"\n}')
    dm = SSv2DataModule(video_root=str(ssv2), annotation_dir=str(tmp_path), **SMALL)
    with pytest.raises(AnnotationError, match=r"labels\.json:4: malformed JSON at column 1 .*expected a JSON object"):
        dm.num_classes  # noqa: B018 - the property reads the labels file
    test_as_val = SSv2DataModule(
        video_root=str(ssv2), annotation_dir=str(ssv2), val_annotations="something-something-v2-test.json", **SMALL
    )
    with pytest.raises(AnnotationError, match=r"test\.json:1: entry 0 expected an object with 'id' and 'template'"):
        test_as_val.setup("validate")
