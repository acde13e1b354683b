"""Where an SGS row loses to a fixed reduction: insertion, embedding, fitting, and which clips.

For each seed (the same stage 1 as ``accuracy_vs_gflops.py``, continuing schedule), each row is
evaluated right after insertion ("zero-shot": the stage-1 weights with the reduction inserted,
no training), then trained as the benchmark trains it. ``<sgs row>+frozen`` trains the same row
with the SGS embedding frozen at its random initialisation (its batch norm still tracks
statistics), which separates the learned similarity from the grouping itself. Reported per row:
val top-1 zero-shot and after training, training top-1 of the last epoch (in training mode), and
val top-1 on groups of clips of the ``appear`` task (from its side-car metadata).

Run: ``python benchmarks/sgs_diagnosis.py --seeds 0 1 2 --threads 2 --stage1-cache runs/stage1_cache``
(about 6 minutes a seed on 2 CPU cores with stage 1 cached; writes ``--out``/diagnosis.md and .csv).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

ROWS = ["average_4", "sgs_overlap_mean_replicate_time", "sgs_overlap_mean_replicate_time+frozen"]


def _benchmark():
    spec = importlib.util.spec_from_file_location("accuracy_vs_gflops", Path(__file__).with_name("accuracy_vs_gflops.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def appear_groups(meta: list[dict]) -> dict[str, torch.Tensor]:
    """Masks over the val clips of the ``appear`` task, by what the clip holds besides the pattern."""
    def mask(test):
        return torch.tensor([bool(test(m)) for m in meta])
    return {
        "all": mask(lambda m: True),
        "no distractor, no background cut": mask(lambda m: m["num_distractors"] == 0 and m["background_cut"] == -1),
        "distractors": mask(lambda m: m["num_distractors"] > 0),
        "background cut": mask(lambda m: m["background_cut"] != -1),
        "pattern shown 1-2 frames": mask(lambda m: 0 < m["event_frames"] <= 2),
        "pattern shown >= 5 frames": mask(lambda m: m["event_frames"] >= 5),
        "nothing appears": mask(lambda m: m["event_frames"] == 0),
    }


def diagnose_row(bench, name: str, *, seed, setting, data, stage1, moments, num_classes, device) -> dict:
    base, frozen = name.removesuffix("+frozen"), name.endswith("+frozen")
    variants = bench.default_variants(4)
    variant = variants.get(base) or bench.derived(variants, base)
    if variant is None:
        raise ValueError(f"{name}: unknown row")
    (train_clips, train_labels), (val_clips, val_labels) = data
    net = bench.build_net(variant, seed=seed, setting=setting, num_classes=num_classes)
    net.load_state_dict(stage1, strict=False)
    if frozen:
        if net.sgs is None:
            raise ValueError(f"{name}: only an SGS row can be frozen")
        for parameter in net.sgs.parameters():
            parameter.requires_grad_(False)
    zero_shot, _ = bench.evaluate(net, val_clips, val_labels, device=device, input_frames=variant.input_frames)
    log: list[tuple[float, float]] = []
    total = setting.backbone_epochs + setting.finetune_epochs
    bench.train(net, train_clips, train_labels, epochs=setting.finetune_epochs, lr=setting.lr, setting=setting,
                seed=seed, stage=2, device=device, input_frames=variant.input_frames, schedule_epochs=total,
                start_epoch=setting.backbone_epochs, moments=moments, step_log=log)
    predictions, bins = bench.evaluate(net, val_clips, val_labels, device=device, input_frames=variant.input_frames)
    last_epoch = log[-(len(log) // setting.finetune_epochs):]
    return {
        "row": name,
        "seed": seed,
        "zero_shot": (zero_shot == val_labels).float().mean().item(),
        "train_top1_last_epoch": sum(accuracy for _, accuracy in last_epoch) / len(last_epoch),
        "mean_bins": bins.float().mean().item() if net.sgs is not None else float("nan"),
        "predictions": predictions,
    }


def main(argv: list[str] | None = None) -> None:
    bench = _benchmark()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(bench.SETTINGS), default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=ROWS, help="benchmark rows; '<sgs row>+frozen' freezes SGS")
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stage1-cache", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/sgs_diagnosis"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    setting = replace(bench.SETTINGS[args.setting], lr=args.lr)
    root = bench.ensure_synthetic_dataset(task="appear", num_train=setting.num_train, num_val=setting.num_val,
                                          num_frames=setting.num_frames, frame_size=setting.frame_size, seed=0)
    train_clips, train_labels, _ = bench.load_split(root, "train")
    val_clips, val_labels, meta = bench.load_split(root, "val")
    groups = appear_groups(meta)
    num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    device = torch.device(args.device)
    # stage1_weights wants the benchmark's data tuple; its val half is not used there.
    bench_data = ((train_clips, train_labels), None)
    results = []
    for seed in args.seeds:
        cache = bench.stage1_cache_path(args.stage1_cache, task="appear", setting=setting, seed=seed,
                                        schedule="continuing", device=args.device, threads=args.threads)
        stage1, moments = bench.stage1_weights(seed=seed, setting=setting, data=bench_data, num_classes=num_classes,
                                               device=device, schedule="continuing", cache=cache)
        for name in args.rows:
            row = diagnose_row(bench, name, seed=seed, setting=setting, data=((train_clips, train_labels),
                               (val_clips, val_labels)), stage1=stage1, moments=moments, num_classes=num_classes,
                               device=device)
            correct = (row.pop("predictions") == val_labels).float()
            row.update({group: correct[mask].mean().item() for group, mask in groups.items()})
            results.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "diagnosis.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0]))
        writer.writeheader()
        writer.writerows(results)
    (args.out / "diagnosis.md").write_text(markdown(results, groups, seeds=args.seeds, lr=setting.lr))
    print((args.out / "diagnosis.md").read_text())


def markdown(results: list[dict], groups: dict[str, torch.Tensor], *, seeds: list[int], lr: float) -> str:
    columns = ["zero_shot", "train_top1_last_epoch", *groups]
    titles = ["val top-1 at insertion (no training)", "train top-1, last epoch", *[f"val: {g} ({int(m.sum())})"
                                                                                    for g, m in groups.items()]]
    lines = [f"Synthetic task `appear`, seeds {seeds}, continuing schedule at lr {lr}; top-1 in %, mean ± std over "
             "seeds; val group sizes in parentheses.", "",
             "| row | " + " | ".join(titles) + " |", "| --- |" + " --- |" * len(titles)]
    for name in dict.fromkeys(r["row"] for r in results):
        rows = [r for r in results if r["row"] == name]
        cells = []
        for column in columns:
            values = torch.tensor([100 * r[column] for r in rows], dtype=torch.float64)
            spread = values.std().item() if len(values) > 1 else 0.0
            cells.append(f"{values.mean().item():.1f} ± {spread:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
