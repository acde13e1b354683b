"""Benchmark: when does packed execution beat one masked pass? (the figures behind PACK_MIN_WASTE)

For each backbone (folded for inference, as ``atfr predict`` runs it; SGS after res2, CPU,
batch 8) it runs the layers after SGS on the same features with fixed B' patterns whose padding
to B'max goes from 4 % to 39 %, packed and masked, interleaved, and prints the median ratio of
packed to masked time per pattern (below 1: packing pays). ``exact`` evaluation packs a batch
only where this says it pays (:meth:`AdaptiveTemporalNetwork.execution_for`). Nothing here is
asserted by the tests.

Run: ``python benchmarks/execution_choice.py --threads 2 [--backbone x3d_s ...] [--crop-size 64]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from atfr_lightning.cpu_memory import keep_freed_memory
from atfr_lightning.models import build_network
from atfr_lightning.models.adaptive import padding_waste
from atfr_lightning.models.inference import folded_copy

# B' of 8 clips, from nearly equal to widely spread (padding to B'max 4 % ... 39 %).
PATTERNS = (
    (6, 7, 7, 7, 6, 7, 7, 7),
    (5, 6, 6, 7, 5, 7, 5, 7),
    (4, 6, 5, 7, 4, 7, 5, 7),
    (3, 5, 7, 7, 4, 7, 3, 7),
    (2, 4, 6, 8, 2, 4, 6, 8),
    (1, 3, 7, 8, 1, 3, 8, 8),
)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


@torch.inference_mode()
def compare(backbone: str, *, crop_size: int, num_frames: int, repeats: int) -> list[dict]:
    """Per pattern: padding, median ms masked and packed, median per-repeat ratio packed / masked."""
    torch.manual_seed(0)
    net = folded_copy(build_network(backbone=backbone, num_classes=400, num_frames=num_frames, crop_size=crop_size).eval())
    features = net.activation(net.pre(torch.randn(len(PATTERNS[0]), 3, num_frames, crop_size, crop_size)))
    rows = []
    for pattern in PATTERNS:
        bins = torch.tensor(pattern)
        if max(pattern) > features.shape[2]:
            raise ValueError(f"{backbone} has {features.shape[2]} slices at SGS, fewer than B'max = {max(pattern)}")
        cut = features[:, :, : max(pattern)].contiguous()
        times: dict[str, list[float]] = {"masked": [], "packed": []}
        for round_ in range(repeats + 1):  # the first round warms up
            for execution in times:
                net.execution = execution
                ms = timed(lambda cut=cut, bins=bins: net.forward_post(cut, bins))
                if round_:
                    times[execution].append(ms)
        rows.append({
            "backbone": backbone,
            "bins": list(pattern),
            "padding": padding_waste(bins),
            "ms_masked": statistics.median(times["masked"]),
            "ms_packed": statistics.median(times["packed"]),
            "packed_over_masked": statistics.median(p / m for p, m in zip(times["packed"], times["masked"])),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", action="append", help="repeat for several (default: x3d_s and slow_r50)")
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of the table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as atfr predict runs on a CPU
    rows = [r for b in args.backbone or ["x3d_s", "slow_r50"]
            for r in compare(b, crop_size=args.crop_size, num_frames=args.num_frames, repeats=args.repeats)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"CPU, {args.threads} thread(s), batch 8, {args.crop_size}^2, layers after SGS, folded; "
          f"median of {args.repeats} interleaved runs")
    print(f"{'backbone':<14} {'B per clip':<26} {'padding':>8} {'masked ms':>10} {'packed ms':>10} {'packed/masked':>14}")
    for r in rows:
        print(f"{r['backbone']:<14} {str(r['bins']):<26} {r['padding']:>8.0%} {r['ms_masked']:>10.1f} "
              f"{r['ms_packed']:>10.1f} {r['packed_over_masked']:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
