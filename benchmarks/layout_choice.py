"""Benchmark: when is channels-last 3D faster on a CPU? (the figures behind the ``auto`` layout)

For each backbone, with SGS after res2 and without, folded for inference as ``atfr predict``
runs it, it evaluates the same clips contiguous and channels-last, interleaved, at several batch
sizes, and prints the median per-repeat ratio of channels-last to contiguous time (below 1:
channels-last pays). ``model.predict_layout: auto`` runs channels-last on a CPU where the
network has depthwise convolutions (:func:`atfr_lightning.models.layout.inference_layout`).
Nothing here is asserted by the tests.

Run: ``python benchmarks/layout_choice.py --threads 2 [--backbone x3d_s ...] [--crop-size 64]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from atfr_lightning.cpu_memory import keep_freed_memory
from atfr_lightning.models import build_network, get_backbone_spec
from atfr_lightning.models.inference import folded_copy
from atfr_lightning.models.layout import has_depthwise_convolution


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def compare(backbone: str, *, sgs: bool, crop_size: int, num_frames: int, batch_sizes: tuple[int, ...],
            repeats: int) -> list[dict]:
    """Per batch size: median ms in each layout and the median per-repeat ratio channels-last / contiguous."""
    torch.manual_seed(0)
    clips = torch.rand(max(batch_sizes), 3, num_frames, crop_size, crop_size, generator=torch.Generator().manual_seed(0))
    net = build_network(backbone=backbone, num_classes=400, num_frames=num_frames, crop_size=crop_size, sgs=sgs)
    if sgs:  # batch norm statistics of these clips, so B' depends on their content
        with torch.no_grad():
            net.train()(clips), net(clips)
    contiguous = folded_copy(net.eval())
    layouts = {"contiguous": contiguous, "channels_last": folded_copy(net).use_channels_last()}
    rows = []
    with torch.inference_mode():
        for batch_size in batch_sizes:
            x = clips[:batch_size]
            times: dict[str, list[float]] = {name: [] for name in layouts}
            for round_ in range(repeats + 1):  # the first round warms up
                for name, model in layouts.items():
                    ms = timed(lambda model=model, x=x: model(x))
                    if round_:
                        times[name].append(ms)
            rows.append({
                "backbone": backbone, "sgs": sgs, "depthwise": has_depthwise_convolution(contiguous),
                "crop_size": crop_size, "frames": num_frames, "batch_size": batch_size,
                "ms_contiguous": statistics.median(times["contiguous"]),
                "ms_channels_last": statistics.median(times["channels_last"]),
                "channels_last_over_contiguous": statistics.median(
                    c / p for c, p in zip(times["channels_last"], times["contiguous"])),
                "units": "ms: median wall time of one batch, torch.inference_mode",
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", action="append",
                        help="repeat for several (default: x3d_s, csn_r101, slow_r50, slowfast_r50)")
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, help="default: 16, SlowFast 32")
    parser.add_argument("--batch-size", type=int, action="append", help="repeat for several (default: 1, 2, 4, 8)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-sgs-rows", action="store_true", help="only the networks with SGS")
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows instead of the table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as atfr predict runs on a CPU
    batch_sizes = tuple(sorted(set(args.batch_size or (1, 2, 4, 8))))
    rows = []
    if not args.json:
        print(f"CPU, {args.threads} thread(s), {args.crop_size}^2 crop, folded, median of {args.repeats} interleaved "
              f"runs; channels-last time / contiguous time (below 1: channels-last pays)")
        print(f"{'backbone':<14} {'SGS':>4} {'depthwise':>9} {'batch':>5} {'ms contiguous':>13} "
              f"{'ms channels-last':>16} {'ratio':>6}")
    for backbone in args.backbone or ["x3d_s", "csn_r101", "slow_r50", "slowfast_r50"]:
        frames = args.num_frames or (32 if get_backbone_spec(backbone).family == "slowfast" else 16)
        for sgs in (True,) if args.no_sgs_rows else (True, False):
            new = compare(backbone, sgs=sgs, crop_size=args.crop_size, num_frames=frames, batch_sizes=batch_sizes,
                          repeats=args.repeats)
            rows += new
            if not args.json:
                for r in new:
                    print(f"{backbone:<14} {'yes' if sgs else 'no':>4} {'yes' if r['depthwise'] else 'no':>9} "
                          f"{r['batch_size']:>5} {r['ms_contiguous']:>13.1f} {r['ms_channels_last']:>16.1f} "
                          f"{r['channels_last_over_contiguous']:>6.2f}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
