"""Benchmark of the SGS layer (CPU): dropping, own cost, and exact vs padded execution.

Prints three tables, each measured side by side in one run (ratios are what to read: the
machine may be shared):

1. Empty-bin dropping: the vectorised ``drop_empty_bins`` vs a Python loop over clips (the
   released code's approach).
2. The SGS layer's own GFLOPs (fvcore, multiply-adds) and wall time as a fraction of X3D-S
   (13 x 160^2, batch 1 for GFLOPs, batch 8 for time).
3. Evaluation of X3D-S + SGS at batch 8: grouped execution (exact, batch-invariant) vs the
   reference's zero padding, and vs X3D-S without SGS.

Run: ``python benchmarks/sgs_layer.py [--repeats 5] [--crop-size 160]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from atfr_lightning.flops import count_gflops
from atfr_lightning.flops.sgs_handles import count_sgs_layer_gflops
from atfr_lightning.models import SGSNetwork
from atfr_lightning.sgs import functional as F_sgs


def drop_empty_bins_loop(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The released code's way: a Python loop over clips, then zero padding."""
    rows, counts = [], []
    for clip in weights:
        active = clip[clip.sum(dim=-1) != 0]
        rows.append(active)
        counts.append(len(active))
    width = max(counts)
    out = weights.new_zeros(weights.shape[0], width, weights.shape[2])
    for n, active in enumerate(rows):
        out[n, : len(active)] = active
    return out, torch.tensor(counts)


def timed(fn, *, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds (one warm-up call)."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _trained_like(net: SGSNetwork, clips: torch.Tensor) -> SGSNetwork:
    # A few training-mode passes give batch norm non-trivial statistics, so clips differ in B'.
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(clips)
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--crop-size", type=int, default=160)
    parser.add_argument("--num-frames", type=int, default=13)
    args = parser.parse_args()
    torch.manual_seed(0)

    print("\n1. Empty-bin dropping, N = 64 clips, B = T = 16 (ms, median)")
    distances = torch.rand(64, 16)
    weights = F_sgs.bin_weights(distances, 16, mode="default")
    vectorised = timed(lambda: F_sgs.drop_empty_bins(weights), repeats=args.repeats * 20)
    loop = timed(lambda: drop_empty_bins_loop(weights), repeats=args.repeats * 20)
    assert torch.equal(F_sgs.drop_empty_bins(weights)[0], drop_empty_bins_loop(weights)[0])
    print(f"   vectorised {vectorised:.3f} ms | loop {loop:.3f} ms | loop / vectorised = {loop / vectorised:.1f}x")

    steps, crop = args.num_frames, args.crop_size
    clips = torch.randn(8, 3, steps, crop, crop)
    clips[0] = clips[0, :, :1]  # a static clip: one bin
    clips[1, :, : steps // 2] = clips[1, :, :1]
    sgs_net = _trained_like(SGSNetwork(backbone="x3d_s", num_classes=400, num_frames=steps, crop_size=crop), clips)
    plain = SGSNetwork(backbone="x3d_s", num_classes=400, num_frames=steps, crop_size=crop, sgs=False).eval()

    print(f"\n2. The SGS layer's own cost vs X3D-S ({steps} x {crop}^2)")
    with torch.no_grad():
        features = sgs_net.pre(clips[:1])
        layer_gflops = count_sgs_layer_gflops(sgs_net.sgs, features, num_active_bins=features.shape[2])
        backbone_gflops, _ = count_gflops(plain, (clips[:1],))
        batch_features = sgs_net.pre(clips)
        layer_ms = timed(lambda: sgs_net.sgs(batch_features), repeats=args.repeats)
        backbone_ms = timed(lambda: plain(clips), repeats=args.repeats)
    print(f"   GFLOPs (fvcore, multiply-adds, one clip, B' = T): SGS layer {layer_gflops:.4f} | "
          f"X3D-S {backbone_gflops:.3f} | fraction {layer_gflops / backbone_gflops:.2%}")
    print(f"   wall time, batch 8: SGS layer {layer_ms:.1f} ms | X3D-S {backbone_ms:.1f} ms | "
          f"fraction {layer_ms / backbone_ms:.2%}")

    print("\n3. Evaluation at batch 8 (ms, median), X3D-S + SGS after res2")
    with torch.no_grad():
        results = {}
        for execution in ("grouped", "padded"):
            sgs_net.execution = execution
            results[execution] = timed(lambda: sgs_net(clips), repeats=args.repeats)
        bins = sgs_net.sgs.last_active_bins.tolist()
    print(f"   active bins per clip: {bins} (of {steps})")
    print(f"   grouped (exact) {results['grouped']:.1f} | padded (reference) {results['padded']:.1f} | "
          f"X3D-S without SGS {backbone_ms:.1f}")
    print(f"   grouped / padded = {results['grouped'] / results['padded']:.2f} | "
          f"grouped / without SGS = {results['grouped'] / backbone_ms:.2f}")


if __name__ == "__main__":
    main()
