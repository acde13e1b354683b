"""The paper's question, side by side in one run: accuracy against GFLOPs for SGS and fixed reductions.

Every row is trained with the same budget on the synthetic set (``--task``, default the primary
task "appear"), for each seed:

1. stage 1 (shared): the backbone (no SGS) from scratch for ``backbone_epochs``;
2. stage 2 (per variant): ``finetune_epochs`` from the stage-1 weights at ``finetune_lr``, with
   the variant's temporal reduction inserted: none (the backbone row), a fixed 2:1 or 4:1
   average after res2, uniform input subsampling to T/2 or T/4, or SGS (default mode, the
   released code's reference mode, default mode with replicate temporal padding).
   ``scratch`` rows (optional) train the variant from scratch for both stages' epochs instead.

The network, optimiser and schedule are the CLI's (``SGSNetwork``, AdamW with weight decay on
weights only, linear warm-up then cosine); the clips are decoded once from the generated mp4
files and kept in memory, so the loop is a plain one. Evaluation is exact per clip (grouped
execution). GFLOPs are fvcore multiply-adds per clip, SGS rows at each clip's B' (mean over the
val split), SGS layer included.

Writes into ``--out`` after every trained row: ``runs.csv`` (one row per variant and seed),
``summary.csv`` and ``summary.md`` (mean and std over seeds) and ``accuracy_vs_gflops.png``.

Run: ``python benchmarks/accuracy_vs_gflops.py --setting cpu`` (about an hour on 2 CPU cores)
or ``--setting gpu --device cuda``. ``--variants <sgs row>:b2`` runs an SGS row with another B,
``<row>@stem`` a row's reduction after another stage; ``--stage1-cache DIR`` keeps each seed's
stage 1 so that later runs (``--resume``, new rows) skip it.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import math
import os
import textwrap
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from atfr_lightning.data.synthetic.generator import ensure_synthetic_dataset
from atfr_lightning.data.video.decoding import read_all_frames
from atfr_lightning.data.video.transforms import KINETICS_MEAN, KINETICS_STD, uniform_temporal_indices
from atfr_lightning.flops.counting import sgs_cost_table
from atfr_lightning.lightning.optim import build_optimizer, warmup_cosine
from atfr_lightning.models import SGSNetwork
from atfr_lightning.sgs import functional as F_sgs


@dataclass(frozen=True)
class Setting:
    """Data size and training budget of one benchmark setting."""

    num_train: int
    num_val: int
    backbone_epochs: int
    finetune_epochs: int
    lr: float = 0.01
    finetune_lr: float = 0.003
    weight_decay: float = 0.05
    batch_size: int = 32
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9, Nesterov), as the CLI's ``optimizer``
    num_frames: int = 16
    frame_size: int = 32


SETTINGS: dict[str, Setting] = {
    "cpu": Setting(num_train=3000, num_val=500, backbone_epochs=5, finetune_epochs=3),
    # Half the data, for the order-sensitive stress task (motion) next to the main run.
    "cpu_small": Setting(num_train=1500, num_val=500, backbone_epochs=5, finetune_epochs=3),
    "gpu": Setting(num_train=8000, num_val=2000, backbone_epochs=12, finetune_epochs=6),
    # A smoke test of the whole pipeline (seconds): figures from it mean nothing.
    "tiny": Setting(num_train=40, num_val=20, backbone_epochs=1, finetune_epochs=1, batch_size=8),
}


@dataclass(frozen=True)
class Variant:
    """One row: network options, input subsampling, and whether it starts from the backbone."""

    label: str
    family: str  # "backbone", "average", "input", "sgs": how the plot draws it
    net: dict = field(default_factory=dict)
    input_frames: int | None = None  # uniform input subsampling to this many frames
    warm: bool = True


def default_variants(num_bins: int) -> dict[str, Variant]:
    sgs = {"sgs": True, "num_bins": num_bins}
    return {
        "backbone": Variant("backbone (no reduction)", "backbone"),
        "average_2": Variant("fixed 2:1 average after res2", "average", {"temporal_average": 2}),
        "average_4": Variant("fixed 4:1 average after res2", "average", {"temporal_average": 4}),
        "average_16": Variant("fixed 16:1 average after res2", "average", {"temporal_average": 16}),
        "input_half": Variant("input subsampled to T/2", "input", input_frames=8),
        "input_quarter": Variant("input subsampled to T/4", "input", input_frames=4),
        "sgs_default": Variant(f"SGS B={num_bins}, default mode", "sgs", sgs),
        "sgs_reference": Variant(f"SGS B={num_bins}, reference mode", "sgs", {**sgs, "sgs_mode": "reference"}),
        "sgs_replicate": Variant(
            f"SGS B={num_bins}, default, replicate padding", "sgs", {**sgs, "temporal_padding": "replicate"}
        ),
        "sgs_full_bins": Variant("SGS B=T, default mode", "sgs", {"sgs": True}),
        "sgs_time_order": Variant(f"SGS B={num_bins}, default, bins in time order", "sgs", {**sgs, "sgs_order": "time"}),
        "sgs_mean": Variant(f"SGS B={num_bins}, default, mean bins", "sgs", {**sgs, "kernel": "linear_mean"}),
        "sgs_normalized": Variant(
            f"SGS B={num_bins}, default, bins / slice count", "sgs", {**sgs, "kernel": "linear_normalized"}
        ),
        "sgs_mean_time": Variant(
            f"SGS B={num_bins}, mean bins, time order", "sgs", {**sgs, "kernel": "linear_mean", "sgs_order": "time"}
        ),
        "sgs_mean_replicate_time": Variant(
            f"SGS B={num_bins}, mean bins, replicate padding, time order", "sgs",
            {**sgs, "kernel": "linear_mean", "temporal_padding": "replicate", "sgs_order": "time"},
        ),
        "sgs_overlap_mean": Variant(
            f"SGS B={num_bins}, overlapping tents, mean bins", "sgs",
            {**sgs, "kernel": "linear_mean", "sgs_tents": "overlapping"},
        ),
        "sgs_overlap_mean_replicate_time": Variant(
            f"SGS B={num_bins}, overlapping tents, mean bins, replicate padding, time order", "sgs",
            {**sgs, "kernel": "linear_mean", "sgs_tents": "overlapping", "temporal_padding": "replicate",
             "sgs_order": "time"},
        ),
        "sgs_scratch": Variant(f"SGS B={num_bins}, default, from scratch", "sgs", sgs, warm=False),
    }


def derived(variants: dict[str, Variant], name: str) -> Variant | None:
    """A row derived from a named one; None if ``name`` is not one.

    ``<sgs row>:b<B>``: that SGS row with B bins (the curve of one SGS row over B);
    ``<average or sgs row>@<stage>``: that row's reduction after another stage (e.g. ``@stem``);
    both combine as ``<sgs row>:b<B>@<stage>``.
    """
    base, at, stage = name.partition("@")
    if at and not stage.isidentifier():
        return None
    base, colon, bins = base.partition(":b")
    variant = variants.get(base)
    if variant is None:
        return None
    if colon:
        if variant.family != "sgs" or not bins.isdigit() or int(bins) < 1:
            return None
        label = variant.label.replace(f"B={variant.net.get('num_bins')}", f"B={int(bins)}")
        variant = replace(variant, label=label, net={**variant.net, "num_bins": int(bins)})
    if at:
        if variant.family not in ("sgs", "average"):
            return None
        label = variant.label.replace(" after res2", "") + f", after {stage}"
        variant = replace(variant, label=label, net={**variant.net, "insert_after": stage})
    return variant


CPU_DEFAULT = ["backbone", "average_2", "average_4", "average_16", "input_half", "input_quarter", "sgs_default", "sgs_reference",
               "sgs_replicate", "sgs_full_bins"]


def build_net(variant: Variant, *, seed: int, setting: Setting, num_classes: int) -> SGSNetwork:
    torch.manual_seed(seed)
    options = {"sgs": False, **variant.net}
    return SGSNetwork(
        backbone="x3d_s",
        num_classes=num_classes,
        num_frames=variant.input_frames or setting.num_frames,
        crop_size=setting.frame_size,
        backbone_kwargs={"width_factor": 1.0, "depth_factor": 1.0},
        dropout=0.0,
        **options,
    )


def load_split(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Decode every clip of a split once: (N, 3, T, H, W) uint8, labels (N,), metadata rows."""
    rows = [line.rsplit(" ", 1) for line in (root / f"{split}.csv").read_text().splitlines()]
    clips = [read_all_frames(root / relative).permute(3, 0, 1, 2) for relative, _ in rows]  # (3, T, H, W)
    meta = [json.loads(line) for line in (root / f"{split}_meta.jsonl").read_text().splitlines()]
    return torch.stack(clips), torch.tensor([int(label) for _, label in rows]), meta


def prepare(clips: torch.Tensor, input_frames: int | None) -> torch.Tensor:
    """uint8 (N, 3, T, H, W) -> normalised float, optionally uniformly subsampled in time."""
    if input_frames is not None:
        clips = clips.index_select(2, uniform_temporal_indices(clips.shape[2], input_frames))
    mean = torch.tensor(KINETICS_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(KINETICS_STD).view(1, 3, 1, 1, 1)
    return (clips.float() / 255 - mean) / std


def optimizer_state_by_name(net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, dict]:
    """The optimiser's per-parameter state (AdamW's moments and step), keyed by parameter name."""
    names = {id(p): n for n, p in net.named_parameters()}
    return {names[id(p)]: copy.deepcopy(state) for p, state in optimizer.state.items() if id(p) in names}


def train(net, clips, labels, *, epochs: int, lr: float, setting: Setting, seed: int, stage: int, device, input_frames,
          schedule_epochs: int | None = None, start_epoch: int = 0, moments: dict[str, dict] | None = None,
          step_log: list[tuple[float, float]] | None = None):
    """The CLI's optimiser and schedule (AdamW, warm-up 0.5 epoch then cosine to 0) in a plain loop.

    The schedule spans ``schedule_epochs`` (default ``epochs``) and this call trains its epochs
    ``start_epoch .. start_epoch + epochs - 1``: the continuing schedule of the main job's warm
    start (``--schedule continuing``). ``moments`` (from :func:`optimizer_state_by_name`) carries
    AdamW's state over for the parameters it names, as the main job's one optimiser does; new
    parameters (the SGS layer's) start afresh. ``step_log``, when given, receives (loss, training
    top-1 of the batch) after every step. Returns the optimiser's state by name.
    """
    net.to(device).train()
    optimizer = build_optimizer(net, name=setting.optimizer, lr=lr, weight_decay=setting.weight_decay, momentum=0.9)
    parameters = dict(net.named_parameters())
    for name, state in (moments or {}).items():
        if name in parameters:
            optimizer.state[parameters[name]] = {k: v.clone().to(device) if torch.is_tensor(v) else v
                                                 for k, v in state.items()}
    steps_per_epoch = math.ceil(len(labels) / setting.batch_size)
    factor = warmup_cosine(
        total_steps=steps_per_epoch * (schedule_epochs or epochs), warmup_steps=steps_per_epoch // 2, warmup_start_factor=0.1
    )
    offset = steps_per_epoch * start_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step + offset))
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(10_000 * seed + 100 * stage + epoch))
        for start in range(0, len(labels), setting.batch_size):
            index = order[start : start + setting.batch_size]
            video = prepare(clips[index], input_frames).to(device)
            logits = net(video)
            target = labels[index].to(device)
            loss = F.cross_entropy(logits, target)
            if step_log is not None:
                step_log.append((loss.item(), (logits.argmax(dim=1) == target).float().mean().item()))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return optimizer_state_by_name(net, optimizer)


@torch.no_grad()
def evaluate(net, clips, labels, *, device, input_frames, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions (N,) and active bins (N,) (T' without SGS) in evaluation mode (grouped, exact)."""
    net.to(device).eval()
    predictions, bins = [], []
    for start in range(0, len(labels), batch_size):
        video = prepare(clips[start : start + batch_size], input_frames).to(device)
        predictions.append(net(video).argmax(dim=1).cpu())
        layer = net.sgs if net.sgs is not None else None
        bins.append(layer.last_active_bins.cpu() if layer is not None else torch.full((len(video),), -1))
    return torch.cat(predictions), torch.cat(bins)


@torch.no_grad()
def edge_maximum_fraction(net, clips, *, device, batch_size: int = 64) -> float:
    """Fraction of clips whose most distinctive slice (max SGS distance) is within 2 of either end.

    The boundary artefact: zero temporal padding before SGS makes the edge slices outliers.
    """
    net.to(device).eval()
    hits, count = 0, 0
    for start in range(0, len(clips), batch_size):
        features = net.pre(prepare(clips[start : start + batch_size], None).to(device))
        layer = net.sgs
        z = layer.norm(layer.embed(features.mean(dim=(3, 4)).transpose(1, 2)).transpose(1, 2))  # (N, L, T)
        distances = F_sgs.temporal_distances(z, kind=layer.distance, mode=layer.mode)
        where = distances.argmax(dim=1)
        steps = distances.shape[1]
        hits += int(((where < 2) | (where >= steps - 2)).sum())
        count += len(where)
    return hits / count


def run_row(name, variant, *, seed, setting, data, stage1, device, num_classes, schedule: str,
            moments: dict[str, dict] | None = None) -> dict:
    (train_clips, train_labels), (val_clips, val_labels, hard, static) = data
    net = build_net(variant, seed=seed, setting=setting, num_classes=num_classes)
    start = time.perf_counter()
    kwargs = dict(setting=setting, seed=seed, device=device, input_frames=variant.input_frames)
    if variant.warm:
        report = net.load_state_dict(stage1, strict=False)
        if report.unexpected_keys or [k for k in report.missing_keys if not k.startswith("sgs.")]:
            raise RuntimeError(f"{name}: stage-1 weights do not fit: {report}")
        if schedule == "continuing":  # the main job's recipe: epochs 5-7 of one 8-epoch schedule at lr
            total = setting.backbone_epochs + setting.finetune_epochs
            train(net, train_clips, train_labels, epochs=setting.finetune_epochs, lr=setting.lr, stage=2,
                  schedule_epochs=total, start_epoch=setting.backbone_epochs, moments=moments, **kwargs)
        else:
            train(net, train_clips, train_labels, epochs=setting.finetune_epochs, lr=setting.finetune_lr, stage=2,
                  **kwargs)
    else:
        epochs = setting.backbone_epochs + setting.finetune_epochs
        train(net, train_clips, train_labels, epochs=epochs, lr=setting.lr, stage=1, **kwargs)
    seconds = time.perf_counter() - start
    predictions, bins = evaluate(net, val_clips, val_labels, device=device, input_frames=variant.input_frames)
    table = sgs_cost_table(net.cpu(), num_frames=net.num_frames, crop_size=setting.frame_size)
    if net.sgs is not None:
        gflops = table.clip_gflops(bins).mean().item()
        mean_bins = bins.float().mean().item()
    else:
        gflops = table.backbone_gflops
        with torch.no_grad():  # temporal slices the layers after res2 see (T/k, or T' for a subsampled input)
            clip = torch.zeros(1, 3, net.num_frames, setting.frame_size, setting.frame_size)
            mean_bins = float(net.eval().forward_features(clip)[0].shape[2])
    correct = (predictions == val_labels).float()
    is_sgs = net.sgs is not None
    return {
        "variant": name,
        "label": variant.label,
        "family": variant.family,
        "seed": seed,
        "top1": correct.mean().item(),
        "top1_hard": correct[hard].mean().item() if hard.any() else float("nan"),
        "gflops": gflops,
        "mean_bins": mean_bins,
        "static_bins": bins[static].float().mean().item() if is_sgs and static.any() else float("nan"),
        "edge_max_fraction": edge_maximum_fraction(net, val_clips, device=device) if is_sgs else float("nan"),
        "train_seconds": round(seconds, 1),
    }


def stage1_weights(*, seed: int, setting: Setting, data, num_classes: int, device, schedule: str,
                   cache: Path | None = None) -> tuple[dict, dict[str, dict]]:
    """Stage 1 of a seed: the backbone's weights and AdamW's moments by name, from ``cache`` if it exists."""
    if cache is not None and cache.exists():
        saved = torch.load(cache, map_location="cpu", weights_only=True)
        print(f"seed {seed}: stage 1 (backbone) from {cache}", flush=True)
        return saved["state"], saved["moments"]
    (train_clips, train_labels), _ = data
    backbone = build_net(Variant("backbone", "backbone", warm=False), seed=seed, setting=setting,
                         num_classes=num_classes)
    start = time.perf_counter()
    total = setting.backbone_epochs + setting.finetune_epochs if schedule == "continuing" else None
    moments = train(backbone, train_clips, train_labels, epochs=setting.backbone_epochs, lr=setting.lr,
                    setting=setting, schedule_epochs=total, seed=seed, stage=1, device=device, input_frames=None)
    print(f"seed {seed}: stage 1 (backbone) {time.perf_counter() - start:.0f} s", flush=True)
    state = {k: v.detach().cpu().clone() for k, v in backbone.state_dict().items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": state, "moments": moments}, cache)
    return state, moments


def stage1_cache_path(folder: Path | None, *, task: str, setting: Setting, seed: int, schedule: str, device: str,
                      threads: int | None) -> Path | None:
    """Where a seed's stage-1 weights are kept: named by everything that determines them."""
    if folder is None:
        return None
    key = json.dumps({"task": task, "setting": asdict(setting), "seed": seed, "schedule": schedule,
                      "device": device, "threads": threads, "torch": torch.__version__}, sort_keys=True)
    return folder / f"stage1_{task}_seed{seed}_{hashlib.sha1(key.encode()).hexdigest()[:12]}.pt"


def summarise(rows: list[dict], backbone_gflops: float) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["variant"] for r in rows):
        group = [r for r in rows if r["variant"] == name]

        def stats(key, group=group):
            values = torch.tensor([r[key] for r in group], dtype=torch.float64)
            return values.mean().item(), (values.std().item() if len(values) > 1 else 0.0)

        top1, top1_std = stats("top1")
        hard, hard_std = stats("top1_hard")
        gflops, _ = stats("gflops")
        bins, _ = stats("mean_bins")
        static_bins, _ = stats("static_bins")
        edge, _ = stats("edge_max_fraction")
        out.append({
            "variant": name, "label": group[0]["label"], "family": group[0]["family"], "seeds": len(group),
            "top1_mean": top1, "top1_std": top1_std, "top1_hard_mean": hard, "top1_hard_std": hard_std,
            "gflops_mean": gflops, "mean_bins": bins, "ratio": gflops / backbone_gflops,
            "static_bins": static_bins, "edge_max_fraction": edge,
        })
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _maybe(value: float, spec: str, unit: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:{spec}}{unit}"


def markdown(summary: list[dict], *, header: str) -> str:
    lines = [
        header, "",
        "| model | top-1 (%) mean ± std | top-1 on hard clips (%) | GFLOPs per clip (fvcore, multiply-adds) "
        "| temporal slices after res2 (SGS: mean B') | GFLOPs ratio to backbone | SGS: B' of static clips "
        "| SGS: max distance at an edge slice |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summary:
        bins = f"{s['mean_bins']:.2f}" if s["family"] == "sgs" else f"{s['mean_bins']:.0f} (fixed)"
        lines.append(
            f"| {s['label']} | {100 * s['top1_mean']:.1f} ± {100 * s['top1_std']:.1f} "
            f"| {100 * s['top1_hard_mean']:.1f} ± {100 * s['top1_hard_std']:.1f} "
            f"| {s['gflops_mean']:.4f} | {bins} | {s['ratio']:.2f} | {_maybe(s['static_bins'], '.2f')} "
            f"| {_maybe(100 * s['edge_max_fraction'], '.0f', ' %')} |"
        )
    return "\n".join(lines) + "\n"


def plot(summary: list[dict], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_variant = {s["variant"]: s for s in summary}
    # One curve per fixed family (and per stage for the averages: ``<row>@<stage>`` rows get their own).
    curves = {"input": ("uniform input subsampling", "^", "tab:orange")}
    stages = dict.fromkeys(v.partition("@")[2] or "res2" for v in by_variant if by_variant[v]["family"] == "average")
    for stage, colour in zip(stages, ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:gray")):
        curves[f"average@{stage}"] = (f"fixed average after {stage}", "s", colour)
    for key, (name, marker, colour) in curves.items():
        family, _, stage = key.partition("@")
        curve = [by_variant[v] for v in by_variant if by_variant[v]["family"] == "backbone"
                 or by_variant[v]["family"] == family and (v.partition("@")[2] or "res2") == (stage or "res2")]
        curve.sort(key=lambda s: s["ratio"])
        if len(curve) > 1:
            ax.errorbar([s["ratio"] for s in curve], [100 * s["top1_mean"] for s in curve],
                        yerr=[100 * s["top1_std"] for s in curve], marker=marker, color=colour, label=name, capsize=3)
    for s in summary:
        if s["family"] == "backbone":
            ax.errorbar([s["ratio"]], [100 * s["top1_mean"]], yerr=[100 * s["top1_std"]], marker="o", color="black",
                        label=s["label"], capsize=3, linestyle="none")
        if s["family"] == "sgs":
            ax.errorbar([s["ratio"]], [100 * s["top1_mean"]], yerr=[100 * s["top1_std"]], marker="*", markersize=12,
                        label=s["label"], capsize=3, linestyle="none")
    ax.set_xlabel("GFLOPs per clip / backbone's (fvcore, multiply-adds; SGS: mean over clips)")
    ax.set_ylabel("top-1 (%), mean ± std over seeds")
    ax.set_title(textwrap.fill(title.split(";")[0], 100), fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(SETTINGS), default="cpu")
    parser.add_argument("--task", choices=("appear", "cue", "motion"), default="appear")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-bins", type=int, default=4, help="B of the SGS rows (besides sgs_full_bins)")
    parser.add_argument("--variants", nargs="+", default=CPU_DEFAULT,
                        help="row names; 'all' for every row; '<sgs row>:b<B>' for an SGS row with B bins; "
                        "'<row>@<stage>' for an average or SGS row after another stage")
    parser.add_argument("--out", type=Path, default=Path("runs/accuracy_vs_gflops"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--schedule", choices=("two_stage", "continuing"), default="two_stage",
        help="two_stage: stage 1 decays to 0, each row restarts a warm-up + cosine at finetune_lr (the table in "
        "docs/results); continuing: one warm-up + cosine over both stages at lr, AdamW's moments carried "
        "over, as the main job's sgs_start_epoch",
    )
    parser.add_argument("--lr", type=float, default=None,
                        help="peak lr of stage 1 (and of the continuing schedule); default: the setting's")
    parser.add_argument(
        "--stage1-cache", type=Path, default=None,
        help="keep each seed's stage-1 weights (and AdamW's moments) in this folder and reuse them in later runs "
        "with the same task, setting, seed, schedule, device and threads (stage 1 is deterministic)",
    )
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already in OUT/runs.csv and train only the missing (variant, seed) pairs")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    setting = SETTINGS[args.setting]
    if args.lr is not None:
        setting = replace(setting, lr=args.lr)
    variants = default_variants(args.num_bins)
    names = list(variants) if args.variants == ["all"] else args.variants
    variants.update({n: derived(variants, n) for n in names if n not in variants and derived(variants, n)})
    unknown = [n for n in names if n not in variants]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(variants)} or 'all'")
    if "backbone" not in names:
        names.insert(0, "backbone")  # the reference every ratio is taken against

    root = ensure_synthetic_dataset(task=args.task, num_train=setting.num_train, num_val=setting.num_val,
                                    num_frames=setting.num_frames, frame_size=setting.frame_size, seed=0)
    train_clips, train_labels, _ = load_split(root, "train")
    val_clips, val_labels, val_meta = load_split(root, "val")
    # Crowded clips: a fixed 4:1 window average mixes the cue with another pattern (cue task);
    # on the motion task, clips whose label needs more than 4 uniformly spaced frames.
    key = "need_average" if args.task == "cue" else "need"  # appear: a uniform T/4 subsample misses the event
    hard = torch.tensor([m[key] > 4 for m in val_meta])
    # Static clips: nothing changes at all (appear: "nothing" without distractors or cut; motion: still).
    static = torch.tensor([
        m.get("event_frames", 1) == 0 and m.get("num_distractors") == 0 and m.get("background_cut") == -1
        or m.get("moving_fraction", 1) == 0
        for m in val_meta
    ])
    num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    data = ((train_clips, train_labels), (val_clips, val_labels, hard, static))
    device = torch.device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.schedule == "continuing":
        recipe = (f"one {setting.backbone_epochs + setting.finetune_epochs}-epoch schedule at lr {setting.lr}, "
                  f"the backbone for {setting.backbone_epochs} epochs, then the row's model (AdamW's moments carried over)")
    else:
        recipe = (f"backbone {setting.backbone_epochs} epochs at lr {setting.lr}, then "
                  f"{setting.finetune_epochs} epochs per row at lr {setting.finetune_lr}")

    def header(rows: list[dict]) -> str:
        seeds = sorted({r["seed"] for r in rows})
        return (
            f"Synthetic task `{args.task}` ({setting.num_train} train / {setting.num_val} val clips, "
            f"{setting.num_frames} x {setting.frame_size}²), X3D-S architecture at width 1.0 / depth 1.0, setting "
            f"`{args.setting}`: {recipe}; seeds {seeds}; "
            f"{int(static.sum())} static and {int(hard.sum())} hard val clips (appear, motion: need > 4 frames, "
            "i.e. a uniform T/4 input subsample can miss the label; cue: need_average > 4)."
        )
    (args.out / "setting.json").write_text(json.dumps({**asdict(setting), **vars(args), "out": str(args.out)},
                                                      indent=2, default=str))
    def write_outputs(rows: list[dict]) -> None:
        write_csv(args.out / "runs.csv", rows)
        summary = summarise(rows, next(r["gflops"] for r in rows if r["variant"] == "backbone"))
        write_csv(args.out / "summary.csv", summary)
        (args.out / "summary.md").write_text(markdown(summary, header=header(rows)))
        plot(summary, args.out / "accuracy_vs_gflops.png", title=header(rows))

    rows: list[dict] = []
    if args.resume and (args.out / "runs.csv").exists():
        with (args.out / "runs.csv").open() as handle:
            rows = [{k: (v if k in ("variant", "label", "family") else float(v)) for k, v in r.items()}
                    for r in csv.DictReader(handle)]
        for row in rows:
            row["seed"] = int(row["seed"])
    done = {(r["variant"], r["seed"]) for r in rows}
    for seed in args.seeds:
        todo = [name for name in names if (name, seed) not in done]
        if not todo:
            continue
        continuing = args.schedule == "continuing"
        stage1, moments = stage1_weights(
            seed=seed, setting=setting, data=data, num_classes=num_classes, device=device, schedule=args.schedule,
            cache=stage1_cache_path(args.stage1_cache, task=args.task, setting=setting, seed=seed,
                                    schedule=args.schedule, device=args.device, threads=args.threads),
        )
        for name in todo:
            row = run_row(name, variants[name], seed=seed, setting=setting, data=data, stage1=stage1, schedule=args.schedule,
                          device=device, num_classes=num_classes, moments=moments if continuing else None)
            rows.append(row)
            print(f"seed {seed} {name}: top-1 {100 * row['top1']:.1f} %, hard {100 * row['top1_hard']:.1f} %, "
                  f"{row['gflops']:.4f} GFLOPs, bins {row['mean_bins']:.2f}, {row['train_seconds']} s", flush=True)
            write_outputs(rows)  # after every row, so a run cut short keeps what it measured
    if rows:
        write_outputs(rows)  # also redraws the outputs of a finished run (--resume with nothing to train)
        print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
