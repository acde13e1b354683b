"""Benchmark: does SGS save real CPU time on every backbone, as much as its GFLOPs promise?

For each registered backbone (small input, CPU, batch 8) it builds the backbone with SGS after
res2 and the same backbone without SGS, with the same weights, and evaluates one batch of clips
of different content (static, piecewise static "shots", slow and fast motion, noise) with both,
side by side in one run (interleaved repeats; ratios are medians of per-repeat ratios). Both
networks run as ``atfr predict`` runs them: batch norm folded into the convolutions
(``--no-fold`` keeps it), ``torch.inference_mode``, the memory layout ``atfr predict`` chooses
(channels-last 3D for X3D and CSN on a CPU, :mod:`atfr_lightning.models.layout`; ``--layout``
forces one for both), and glibc's malloc keeping freed memory for reuse (``--default-malloc``
leaves it; :mod:`atfr_lightning.cpu_memory`). It prints:

* GFLOPs ratio SGS / backbone: the mean per-clip GFLOPs at each clip's B' (fvcore,
  multiply-adds, from the same cost table the per-clip logging uses) over the backbone's;
* wall-time ratio SGS / backbone: evaluation time of the batch with SGS (default execution:
  ``exact``, which in evaluation picks packed or masked per batch, see
  ``AdaptiveTemporalNetwork.execution_for``) over the time without;
* the share of the layers before SGS (which SGS cannot shorten) in GFLOPs and in time (timed
  inside each pass of the backbone, up to the block SGS follows), and the
  time ratio expected if the layers after SGS took time in proportion to their GFLOPs: the gap
  between the GFLOPs ratio and the time ratio is mostly that share being larger in time.
* the time ratio "at mean B'": SGS, then the layers after it with every clip cut to the batch's
  mean B', dense (:func:`_uniform_pass`): the least any exact execution could take for this
  batch; its distance from the expected ratio is per-operator cost, not the execution scheme.

SGS is untrained here (random embedding, batch norm statistics from two training-mode passes
on the batch), so B' reflects the content and a random similarity space, not a learnt one.
Ratios are what to read: the machine may be shared. Nothing here is asserted by the tests.

Run: ``python benchmarks/backbones.py [--backbone x3d_s ...] [--crop-size 64] [--repeats 7]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from atfr_lightning.cpu_memory import keep_freed_memory
from atfr_lightning.flops import count_gflops, sgs_cost_table
from atfr_lightning.models import RegisteredNetwork, available_backbones, build_network, get_backbone_spec
from atfr_lightning.models.inference import folded_copy
from atfr_lightning.models.layout import LAYOUTS, inference_layout


def make_clips(batch_size: int, num_frames: int, crop_size: int, *, seed: int = 0) -> torch.Tensor:
    """(N, 3, T, H, W) clips whose content ranges from static to noise (cycled over the batch)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(num_frames, dtype=torch.float32)
    clips = []
    for n in range(batch_size):
        still = torch.rand(3, 1, crop_size, crop_size, generator=generator)
        kind = n % 4
        if kind == 0:  # a static scene
            clip = still.expand(-1, num_frames, -1, -1)
        elif kind == 1:  # 2-4 static shots with hard cuts
            shots = 2 + n % 3
            scenes = torch.rand(shots, 3, 1, crop_size, crop_size, generator=generator)
            index = (t * shots / num_frames).long()
            clip = torch.cat([scenes[i] for i in index.tolist()], dim=1)
        elif kind == 2:  # a bright square moving across the scene, speed by clip
            clip = still.repeat(1, num_frames, 1, 1)
            side, speed = crop_size // 4, 1 + n % 3
            for f in range(num_frames):
                x0 = (f * speed) % (crop_size - side)
                clip[:, f, side : 2 * side, x0 : x0 + side] = 1.0
        else:  # noise: every frame different
            clip = torch.rand(3, num_frames, crop_size, crop_size, generator=generator)
        clips.append(clip)
    return torch.stack(clips)


def timed(fn) -> float:
    """Wall time of ``fn()`` in milliseconds."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


@torch.no_grad()
def benchmark(
    backbone: str, *, num_frames: int, crop_size: int, batch_size: int, repeats: int, layout: str = "auto",
    execution: str = "exact", fold: bool = True,
) -> dict:
    clips = make_clips(batch_size, num_frames, crop_size)
    torch.manual_seed(0)
    with_sgs = build_network(backbone=backbone, num_classes=400, num_frames=num_frames, crop_size=crop_size,
                          execution=execution)
    with_sgs.train()
    for _ in range(2):  # batch norm statistics of this batch, so B' depends on content
        with_sgs(clips)
    with_sgs.eval()
    without = build_network(backbone=backbone, num_classes=400, num_frames=num_frames, crop_size=crop_size, sgs=False)
    without.load_state_dict({k: v for k, v in with_sgs.state_dict().items() if not k.startswith("sgs.")})
    without.eval()
    if fold:  # batch norm folded into the convolutions of both, as prediction runs them
        with_sgs, without = folded_copy(with_sgs), folded_copy(without)
    layout = inference_layout(with_sgs, "cpu", layout)  # the same layout for both, as predict chooses it
    if layout == "channels_last":
        with_sgs.use_channels_last()
        without.use_channels_last()

    table = sgs_cost_table(with_sgs, num_frames=num_frames, crop_size=crop_size)
    pre_gflops, _ = count_gflops(_Pre(with_sgs), (clips[:1],))
    with_sgs(clips)
    bins = {name: layer.last_active_bins for name, layer in with_sgs.sgs_layers().items()}
    per_clip = table.clip_gflops(bins)

    sgs_ms, plain_ms, pre_ms, uniform_ms = [], [], [], []
    pre_end = _pre_end_clock(without)
    with torch.inference_mode():  # as Lightning's predict and evaluation run
        with_sgs(clips), without(clips)  # warm-up
        for _ in range(repeats):  # interleaved, so all see the same machine load
            start = time.perf_counter()
            plain_ms.append(timed(lambda: without(clips)))
            # The layers before SGS timed inside that same pass: its pre-SGS share is not moved
            # by a change of machine speed between two separate calls.
            pre_ms.append((pre_end[0] - start) * 1000)
            sgs_ms.append(timed(lambda: with_sgs(clips)))
            uniform_ms.append(timed(lambda: _uniform_pass(with_sgs, clips)))
    paired = range(repeats)
    return {
        "backbone": backbone,
        "frames": num_frames,
        "layout": layout,
        # Medians of per-repeat ratios: the three times of one repeat are taken back to back, so
        # a slow phase of a shared machine moves them together and their ratios stay comparable.
        "time_ratio": statistics.median(sgs_ms[i] / plain_ms[i] for i in paired),
        "resolved_execution": with_sgs.last_execution,  # what the timed batch ran (exact chooses per batch)
        "pre_share": statistics.median(pre_ms[i] / plain_ms[i] for i in paired),
        "uniform_time_ratio": statistics.median(uniform_ms[i] / plain_ms[i] for i in paired),
        "mean_bins": " / ".join(f"{float(b.float().mean()):.1f}" for b in bins.values()),
        "max_bins": " / ".join(str(layer.num_bins or t) for layer, t in zip(
            with_sgs.sgs_layers().values(), _steps_at_sgs(with_sgs, clips))),
        "gflops_backbone": table.backbone_gflops,
        "gflops_sgs": float(per_clip.mean()),
        "gflops_pre": pre_gflops,
        "ms_backbone": statistics.median(plain_ms),
        "ms_sgs": statistics.median(sgs_ms),
        "ms_pre": statistics.median(pre_ms),
    }


def _uniform_pass(net: RegisteredNetwork, clips: torch.Tensor) -> torch.Tensor:
    """SGS as it runs, then the layers after it on every clip cut to the batch's mean B' (rounded).

    One length for all clips, run dense: no padding, no mask, no packing. No exact execution of
    this batch can be cheaper than this by more than the rounding; what it costs beyond the
    GFLOPs is per-operator cost that does not shrink with the slices.
    """
    features, bins = net.forward_features(clips)
    pairs = zip(features, bins) if isinstance(features, list) else [(features, bins)]
    layout = torch.channels_last_3d if getattr(net, "channels_last", False) else torch.contiguous_format
    cut = [f[:, :, : max(1, round(float(b.float().mean())))].contiguous(memory_format=layout) for f, b in pairs]
    return net.post(cut if isinstance(features, list) else cut[0])


def _pre_end_clock(net: RegisteredNetwork) -> list[float]:
    """A one-element list that holds the time at which ``net``'s layers before SGS last finished.

    ``pre()`` ends with the block SGS follows (SlowFast: that stage's Fast pathway, run second).
    """
    stamp = [0.0]
    block = net.blocks[net.insert_after]
    last = block.multipathway_blocks[1] if hasattr(block, "multipathway_blocks") else block
    last.register_forward_hook(lambda *_: stamp.__setitem__(0, time.perf_counter()))
    return stamp


class _Pre(torch.nn.Module):
    """The layers before SGS as a module fvcore can trace (tensors out only)."""

    def __init__(self, net: RegisteredNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.net.pre(x)
        return tuple(features) if isinstance(features, list) else (features,)


def expected_time_ratio(r: dict) -> float:
    """The wall-time ratio if the layers after SGS took time in proportion to their GFLOPs.

    The layers before SGS run in full either way; their share of the time is larger than their
    share of the GFLOPs on a CPU (high-resolution, memory-bound batch norm, activations and
    pools, which GFLOPs do not count), which bounds what SGS can save there.
    """
    post_ratio = (r["gflops_sgs"] - r["gflops_pre"]) / (r["gflops_backbone"] - r["gflops_pre"])
    return r["pre_share"] + (1 - r["pre_share"]) * post_ratio


def _record(r: dict, args: argparse.Namespace) -> dict:
    """One backbone's figures as a JSON object (ratios are SGS over the backbone without SGS)."""
    return {
        "backbone": r["backbone"],
        "frames": r["frames"],
        "crop_size": args.crop_size,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "layout": r["layout"],
        "execution": args.execution,
        "resolved_execution": r["resolved_execution"],
        "batch_norm": "unfolded" if args.no_fold else "folded",
        "repeats": args.repeats,
        "mean_bins": r["mean_bins"],
        "gflops_backbone": r["gflops_backbone"],
        "gflops_sgs": r["gflops_sgs"],
        "gflops_ratio": r["gflops_sgs"] / r["gflops_backbone"],
        "ms_backbone": r["ms_backbone"],
        "ms_sgs": r["ms_sgs"],
        "time_ratio": r["time_ratio"],
        "pre_sgs_time_share": r["pre_share"],
        "expected_time_ratio": expected_time_ratio(r),
        "uniform_time_ratio": r["uniform_time_ratio"],
        "malloc": args.malloc,
        "units": "GFLOPs: fvcore multiply-adds per clip; ms: median wall time of one batch",
    }


def _steps_at_sgs(net: RegisteredNetwork, clips: torch.Tensor) -> list[int]:
    features = net.pre(clips[:1])
    return [f.shape[2] for f in (features if isinstance(features, list) else [features])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", action="append", choices=available_backbones(),
                        help="repeat for several (default: all)")
    parser.add_argument("--num-frames", type=int, help="default: 16, SlowFast 32 (Slow pathway 32 / alpha)")
    parser.add_argument("--crop-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: stable on a shared machine)")
    parser.add_argument("--execution", default="exact", choices=("exact", "packed", "bucketed", "grouped", "masked"),
                        help="how the layers after SGS run in evaluation (exact = packed there)")
    parser.add_argument("--layout", default="auto", choices=LAYOUTS,
                        help="memory layout of both networks (default auto, as atfr predict chooses: channels-last "
                             "3D for networks with depthwise convolutions on a CPU)")
    parser.add_argument("--no-fold", action="store_true",
                        help="keep batch norm as trained (default: folded into the convolutions of both, as predict runs)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc as it is (default: keep freed memory for reuse, as atfr predict "
                             "does on a CPU; atfr_lightning.cpu_memory)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list of per-backbone objects instead of the table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.malloc = "glibc defaults" if args.default_malloc or not keep_freed_memory() else "freed memory kept"
    if args.json:
        results = []
        for backbone in args.backbone or available_backbones():
            spec = get_backbone_spec(backbone)
            frames = args.num_frames or (32 if spec.family == "slowfast" else 16)
            r = benchmark(backbone, num_frames=frames, crop_size=args.crop_size, batch_size=args.batch_size,
                          repeats=args.repeats, layout=args.layout, execution=args.execution, fold=not args.no_fold)
            results.append(_record(r, args))
        print(json.dumps(results, indent=2))
        return
    print(f"CPU, {args.threads} thread(s), batch {args.batch_size}, {args.crop_size}^2 crop, eval, "
          f"median of {args.repeats} interleaved runs; GFLOPs = fvcore multiply-adds per clip, SGS after res2, "
          f"untrained SGS (see the module docstring); malloc: {args.malloc}")
    bins_label = "mean B' (max)"
    print(f"{'backbone':<18} {'T':>3} {bins_label:>16} {'GFLOPs':>8} {'+SGS':>8} {'GFLOPs ratio':>12} "
          f"{'ms':>8} {'+SGS ms':>8} {'time ratio':>10} {'pre-SGS share: GFLOPs':>22} {'time':>5} "
          f"{'expected time ratio':>19} {'at mean B':>9}  layout")
    for backbone in args.backbone or available_backbones():
        spec = get_backbone_spec(backbone)
        frames = args.num_frames or (32 if spec.family == "slowfast" else 16)
        r = benchmark(backbone, num_frames=frames, crop_size=args.crop_size, batch_size=args.batch_size,
                      repeats=args.repeats, layout=args.layout, execution=args.execution, fold=not args.no_fold)
        bins = f"{r['mean_bins']} ({r['max_bins']})"
        print(f"{backbone:<18} {frames:>3} {bins:>16} {r['gflops_backbone']:>8.3f} {r['gflops_sgs']:>8.3f} "
              f"{r['gflops_sgs'] / r['gflops_backbone']:>12.2f} {r['ms_backbone']:>8.0f} {r['ms_sgs']:>8.0f} "
              f"{r['time_ratio']:>10.2f} {r['gflops_pre'] / r['gflops_backbone']:>22.2f} "
              f"{r['pre_share']:>5.2f} {expected_time_ratio(r):>19.2f} {r['uniform_time_ratio']:>9.2f}  {r['layout']}",
              flush=True)


if __name__ == "__main__":
    main()
