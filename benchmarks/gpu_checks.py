"""Checks and timings that need a CUDA GPU (run by hand on a GPU machine; CI has none).

1. SGS under bf16 and fp16 autocast on CUDA: finite outputs, bins equal to float32's.
2. Batch invariance on CUDA: eval logits of each clip alone vs in a mixed batch (grouped), and
   masked vs grouped execution.
3. X3D-S + SGS (13 x 160^2, batch 8, eval): wall time of grouped vs padded execution and vs
   X3D-S without SGS, measured side by side (CUDA events, median of repeats).

Run: ``python benchmarks/gpu_checks.py``
"""

from __future__ import annotations

import statistics

import torch

from atfr_lightning.models import SGSNetwork


def cuda_ms(fn, *, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: these checks need a GPU")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
    clips = torch.randn(8, 3, 13, 160, 160, device=device)
    clips[0] = clips[0, :, :1]
    clips[1, :, :6] = clips[1, :, :1]
    net = SGSNetwork(backbone="x3d_s", num_classes=400).to(device)
    with torch.no_grad():
        net.train()
        for _ in range(2):
            net(clips)
        net.eval()
        logits = net(clips)
        bins32 = net.sgs.last_active_bins.clone()
        print("1. bins (float32):", bins32.tolist())
        for dtype in (torch.bfloat16, torch.float16):
            with torch.autocast("cuda", dtype=dtype):
                out = net(clips)
            same = torch.equal(net.sgs.last_active_bins, bins32)
            print(f"   autocast {dtype}: finite={bool(torch.isfinite(out).all())} bins equal to float32: {same}")
        alone = torch.cat([net(clips[i : i + 1]) for i in range(8)])
        print(f"2. alone vs batch (grouped), max |diff| = {(alone - logits).abs().max().item():.2e}")
        net.execution = "masked"
        masked = net(clips)
        print(f"   masked vs grouped, max |diff| = {(masked - logits).abs().max().item():.2e}")
        plain = SGSNetwork(backbone="x3d_s", num_classes=400, sgs=False).to(device).eval()
        times = {}
        for execution in ("grouped", "padded"):
            net.execution = execution
            times[execution] = cuda_ms(lambda: net(clips))
        times["no SGS"] = cuda_ms(lambda: plain(clips))
    print("3. eval, batch 8, ms (median of 20):", {k: round(v, 2) for k, v in times.items()})
    print(f"   grouped / padded = {times['grouped'] / times['padded']:.2f}, "
          f"grouped / no SGS = {times['grouped'] / times['no SGS']:.2f}")


if __name__ == "__main__":
    main()
