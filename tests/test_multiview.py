"""Multi-view test accuracy through Lightning: identical with 1 and 2 DDP processes (CPU, gloo).

Run as a script (``python tests/test_multiview.py --out FILE --devices 2``) it is the DDP
half of the Lightning test: Lightning's DDP launcher starts the second rank by running this
file again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from atfr_lightning.callbacks import MultiViewTestAccuracy
from atfr_lightning.data import KineticsDataModule
from atfr_lightning.data.synthetic.generator import ensure_synthetic_dataset
from atfr_lightning.lightning.module import VideoClassifier


class PooledLinear(nn.Module):
    """A tiny net whose logits depend on where the view is: (N, 3, T, H, W) -> (N, K)."""

    num_classes = 5

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)  # identical weights in every process
        self.linear = nn.Linear(3 * 2 * 4 * 4, self.num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool3d(video, (2, 4, 4))  # (N, 3, T, H, W) -> (N, 3, 2, 4, 4)
        return self.linear(pooled.flatten(1)) * 20


def _datamodule(data_root: Path, batch_size: int) -> KineticsDataModule:
    # The synthetic set read as Kinetics: its val.csv is a ``path label`` list. 7 videos x 3 clips x 3 crops
    # = 63 views: two ranks get 32 each, one a padding duplicate.
    return KineticsDataModule(
        video_root=str(data_root),
        annotation_format="path_label",
        train_annotations="val.csv",
        val_annotations="val.csv",
        num_frames=4,
        sampling_rate=1,
        crop_size=24,
        train_scale=(32, 32),
        test_scale=32,
        num_test_clips=3,
        num_test_crops=3,
        batch_size=batch_size,
        num_workers=0,
    )


def run_test(data_root: Path, devices: int, root_dir: Path) -> dict:
    callback = MultiViewTestAccuracy()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        logger=False,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root_dir,
    )
    model = VideoClassifier(net=PooledLinear())
    trainer.test(model, datamodule=_datamodule(data_root, batch_size=4 * devices))
    videos, probs = callback.metric.video_probabilities()
    return {
        "results": callback.results,
        "videos": videos.tolist(),
        "probs": probs.tolist(),
        "rank": trainer.global_rank,
    }


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_dataset(
        root=tmp_path_factory.mktemp("multiview") / "set", num_train=5, num_val=7, num_frames=8, frame_size=32
    )


@pytest.mark.slow
def test_lightning_multiview_accuracy_is_identical_with_1_and_2_processes(data_root: Path, tmp_path: Path) -> None:
    single = run_test(data_root, devices=1, root_dir=tmp_path / "single")
    out = tmp_path / "ddp.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, __file__, "--data", str(data_root), "--devices", "2", "--out", str(out)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-3000:]
    ddp = json.loads(out.read_text())

    assert single["results"]["num_videos"] == ddp["results"]["num_videos"] == 7
    assert single["results"]["num_views"] == ddp["results"]["num_views"] == 63  # the padding duplicate removed
    assert ddp["results"] == pytest.approx(single["results"], abs=1e-12)
    assert ddp["videos"] == single["videos"] == list(range(7))
    torch.testing.assert_close(torch.tensor(ddp["probs"]), torch.tensor(single["probs"]), atol=1e-6, rtol=0)

    # Independent: every view through the net in a plain loop, mean softmax per video.
    dm = _datamodule(data_root, batch_size=1)
    dm.setup("test")
    net = PooledLinear().eval()
    sums, labels = torch.zeros(7, 5, dtype=torch.float64), {}
    with torch.no_grad():
        for index in range(len(dm.test_dataset)):
            item = dm.test_dataset[index]
            sums[item["video_index"]] += net(item["video"][None]).softmax(dim=1)[0].double()
            labels[item["video_index"]] = item["label"]
    torch.testing.assert_close(torch.tensor(single["probs"], dtype=torch.float64), sums / 9, atol=1e-6, rtol=0)
    top1 = sum(int(sums[v].argmax()) == labels[v] for v in range(7)) / 7
    assert single["results"]["top1"] == pytest.approx(top1)


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = run_test(args.data, args.devices, args.out.parent / "ddp")
    if result["rank"] == 0:
        args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    _main()
