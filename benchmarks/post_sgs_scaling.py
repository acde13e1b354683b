"""Benchmark: does the time of the layers after SGS shrink with the slices as their GFLOPs do?

SGS can only save what the layers after it spend; ``benchmarks/backbones.py`` expects them to
take time in proportion to their GFLOPs. This script checks that premise without SGS: it runs the
backbone's layers after res2 (folded, ``torch.inference_mode``, dense, no mask) on the same
features cut to a fraction of their slices, and reports, per fraction, the time over the time at
all slices next to the GFLOPs (fvcore, multiply-adds) over the GFLOPs at all slices. The
difference (``excess``) is per-operator cost that does not shrink with the slices; no execution
scheme of SGS can remove it, only cheaper operators can. Each operator variant is measured side
by side in one run (interleaved repeats, medians of per-repeat ratios):

* ``eager``: as ``atfr predict`` runs it (contiguous layout);
* ``channels_last``: the same modules on channels-last 3D input;
* ``torchscript``: the same modules traced at that input shape, frozen and optimised for
  inference (``torch.jit.freeze``, ``torch.jit.optimize_for_inference``: oneDNN layouts and
  fused convolution epilogues).

``speed`` is each variant's time at all slices over eager's (lower is faster).

Run: ``python benchmarks/post_sgs_scaling.py [--backbone x3d_s ...] [--crop-size 64] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch
from torch import nn

from atfr_lightning.cpu_memory import keep_freed_memory
from atfr_lightning.flops import count_gflops
from atfr_lightning.models import RegisteredNetwork, available_backbones, build_network, get_backbone_spec
from atfr_lightning.models.inference import folded_copy

VARIANTS = ("eager", "channels_last", "torchscript")


class _Post(nn.Module):
    """The layers after SGS as a module of tensors (SlowFast: one per pathway)."""

    def __init__(self, net: RegisteredNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, *pathways: torch.Tensor) -> torch.Tensor:
        return self.net.post(list(pathways) if len(pathways) > 1 else pathways[0])


def _cut(features: list[torch.Tensor], fraction: float) -> tuple[torch.Tensor, ...]:
    """Every pathway's first ``fraction`` of its slices (at least one), contiguous."""
    return tuple(f[:, :, : max(1, round(f.shape[2] * fraction))].contiguous() for f in features)


def _runner(variant: str, post: _Post, inputs: tuple[torch.Tensor, ...]):
    """A no-argument callable that runs ``post`` on ``inputs`` as ``variant`` runs it."""
    if variant == "eager":
        return lambda: post(*inputs)
    if variant == "channels_last":
        moved = tuple(x.contiguous(memory_format=torch.channels_last_3d) for x in inputs)
        return lambda: post(*moved)
    with warnings.catch_warnings():  # the tracer's note on shape tests: traced per shape here
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(post, inputs, check_trace=False)
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    return lambda: frozen(*inputs)


@torch.no_grad()
def measure(backbone: str, *, num_frames: int, crop_size: int, batch_size: int, repeats: int,
            fractions: tuple[float, ...]) -> list[dict]:
    torch.manual_seed(0)
    net = build_network(backbone=backbone, num_classes=400, num_frames=num_frames, crop_size=crop_size, sgs=False)
    net = folded_copy(net.eval())
    clips = torch.rand(batch_size, 3, num_frames, crop_size, crop_size, generator=torch.Generator().manual_seed(0))
    post = _Post(net).eval()
    features = net.pre(clips)
    features = features if isinstance(features, list) else [features]
    inputs = {f: _cut(features, f) for f in fractions}
    gflops = {f: count_gflops(post, tuple(x[:1] for x in inputs[f]))[0] for f in fractions}
    with torch.inference_mode():
        runs = {(v, f): _runner(v, post, inputs[f]) for v in VARIANTS for f in fractions}
        for run in runs.values():  # warm-up (TorchScript optimises on its first calls)
            run(), run()
        ms = {key: [] for key in runs}
        for _ in range(repeats):  # interleaved, so every variant sees the same machine load
            for key, run in runs.items():
                start = time.perf_counter()
                run()
                ms[key].append((time.perf_counter() - start) * 1000)
    full = max(fractions)
    records = []
    for variant in VARIANTS:
        for f in fractions:
            time_ratio = statistics.median(a / b for a, b in zip(ms[variant, f], ms[variant, full]))
            records.append({
                "backbone": backbone, "variant": variant, "crop_size": crop_size, "batch_size": batch_size,
                "frames": num_frames, "fraction": f,
                "slices": " / ".join(str(x.shape[2]) for x in inputs[f]),
                "ms": statistics.median(ms[variant, f]),
                "time_ratio": time_ratio,
                "gflops_ratio": gflops[f] / gflops[full],
                "excess": time_ratio - gflops[f] / gflops[full],
                "speed": statistics.median(a / b for a, b in zip(ms[variant, full], ms["eager", full])),
                "units": "ms: median wall time of the layers after res2 for one batch; GFLOPs: fvcore multiply-adds",
            })
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", action="append", choices=available_backbones(),
                        help="repeat for several (default: x3d_s, slow_r50, slowfast_r50)")
    parser.add_argument("--num-frames", type=int, help="default: 16, SlowFast 32")
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fraction", type=float, action="append",
                        help="fraction of the slices kept, repeat for several (default: 1, 0.75, 0.5, 0.375, 0.25)")
    parser.add_argument("--json", action="store_true", help="print one JSON list of records instead of the table")
    args = parser.parse_args()
    fractions = tuple(sorted(set(args.fraction or (1.0, 0.75, 0.5, 0.375, 0.25)) | {1.0}, reverse=True))
    if any(not 0 < f <= 1 for f in fractions):
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as atfr predict runs on a CPU
    if not args.json:
        print(f"CPU, {args.threads} thread(s), batch {args.batch_size}, {args.crop_size}^2 crop, layers after "
              f"res2 only, median of {args.repeats} interleaved runs; GFLOPs = fvcore multiply-adds")
        print(f"{'backbone':<14} {'variant':<14} {'slices':>8} {'ms':>8} {'time ratio':>10} "
              f"{'GFLOPs ratio':>12} {'excess':>7} {'speed':>6}")
    records = []
    for backbone in args.backbone or ["x3d_s", "slow_r50", "slowfast_r50"]:
        frames = args.num_frames or (32 if get_backbone_spec(backbone).family == "slowfast" else 16)
        rows = measure(backbone, num_frames=frames, crop_size=args.crop_size, batch_size=args.batch_size,
                       repeats=args.repeats, fractions=fractions)
        records += rows
        if not args.json:
            for r in rows:
                print(f"{r['backbone']:<14} {r['variant']:<14} {r['slices']:>8} {r['ms']:>8.1f} {r['time_ratio']:>10.2f} "
                      f"{r['gflops_ratio']:>12.2f} {r['excess']:>+7.2f} {r['speed']:>6.2f}", flush=True)
    if args.json:
        print(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
