"""How stable is the backbone recipe? Validation top-1 per epoch over clip orders, seeds and recipes.

Trains the accuracy-vs-GFLOPs benchmark's backbone (same loop, data and warm-up + cosine schedule)
for ``--epochs`` epochs of a ``--schedule-epochs`` schedule, once per initial-weight seed
(``--seeds``) and clip order (``--orders``), and prints after every epoch the validation top-1, the
epoch's mean training loss and accuracy, and on the last line the mean and spread over runs.

- ``--order fixed`` reuses one permutation of the clips in every epoch, ``per_epoch`` draws a new
  seeded one each epoch (order 0 is the permutation the first measurement used).
- ``--batch-size``, ``--lr``, ``--weight-decay``, ``--optimizer``: the recipe under test (defaults:
  the setting's, i.e. the main job's).
- ``--bn-checks N``: also evaluate with batch-norm in training mode (batch statistics) and after
  re-estimating the running statistics on N training batches ("precise BN"), to tell a
  batch-norm-statistics problem from a weights problem.
- The "plateau" column is the first step at which the training accuracy, averaged over the last 20
  steps, passes 0.3 (chance is 0.2): how long the network sits at chance.

Run: ``python benchmarks/order_sensitivity.py --order per_epoch --orders 0 1 2 --epochs 8`` (about 8
minutes per run on 2 CPU cores). ``--out runs.csv`` writes one row per run and epoch. Figures:
docs/sgs.md.
"""

from __future__ import annotations

import argparse
import copy
import csv
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_vs_gflops as bench  # noqa: E402

from atfr_lightning.data import ensure_synthetic_dataset  # noqa: E402

PLATEAU_WINDOW = 20
PLATEAU_LEVEL = 0.3


def order_stage(order: str, index: int, epoch: int) -> int:
    """The ``stage`` that seeds ``bench.train``'s permutation (seed, stage, its epoch 0).

    One stage per epoch gives a new order each epoch, a constant stage the same order every epoch;
    ``index`` picks which family of orders (0 reproduces the first measurement).
    """
    return (10 + 50 * index + epoch) if order == "per_epoch" else (1 + 50 * index)


def plateau_end(step_log: list[tuple[float, float]]) -> int | None:
    """First step whose running training accuracy (last PLATEAU_WINDOW steps) passes PLATEAU_LEVEL."""
    for step in range(PLATEAU_WINDOW, len(step_log) + 1):
        if statistics.fmean(acc for _, acc in step_log[step - PLATEAU_WINDOW : step]) > PLATEAU_LEVEL:
            return step
    return None


@torch.no_grad()
def batchnorm_checks(net, train_clips, val_clips, val_labels, *, batches: int, batch_size: int) -> tuple[float, float]:
    """Val top-1 with batch statistics (train-mode BN) and with precise-BN running statistics."""
    batch_norms = (torch.nn.modules.batchnorm._BatchNorm,)

    train_mode = copy.deepcopy(net).train()
    correct = 0
    for start in range(0, len(val_labels), 64):
        logits = train_mode(bench.prepare(val_clips[start : start + 64], None))
        correct += int((logits.argmax(dim=1) == val_labels[start : start + 64]).sum())
    batch_stats = correct / len(val_labels)

    precise = copy.deepcopy(net).train()
    for module in precise.modules():
        if isinstance(module, batch_norms):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the re-estimation batches
    order = torch.randperm(len(train_clips), generator=torch.Generator().manual_seed(0))
    for index in order[: batches * batch_size].split(batch_size):
        precise(bench.prepare(train_clips[index], None))
    predictions, _ = bench.evaluate(precise, val_clips, val_labels, device=torch.device("cpu"), input_frames=None)
    return batch_stats, (predictions == val_labels).float().mean().item()


def main(argv: list[str] | None = None) -> list[list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(bench.SETTINGS), default="cpu")
    parser.add_argument("--order", choices=("fixed", "per_epoch"), default="per_epoch")
    parser.add_argument("--orders", type=int, nargs="+", default=[0], help="which families of clip orders")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="initial weights")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the schedule to train")
    parser.add_argument("--schedule-epochs", type=int, default=None, help="length of the schedule (default: the "
                        "setting's backbone + fine-tune epochs, 8)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default=None)
    parser.add_argument("--bn-checks", type=int, default=0, metavar="N",
                        help="also evaluate with train-mode BN and with precise BN over N training batches")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="CSV, one row per run and epoch")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    setting = bench.SETTINGS[args.setting]
    overrides = {"batch_size": args.batch_size, "lr": args.lr, "weight_decay": args.weight_decay,
                 "optimizer": args.optimizer}
    setting = replace(setting, **{k: v for k, v in overrides.items() if v is not None})
    total = args.schedule_epochs or setting.backbone_epochs + setting.finetune_epochs
    if not 1 <= args.epochs <= total:
        parser.error(f"--epochs must be between 1 and the schedule's {total} epochs, got {args.epochs}")
    root = ensure_synthetic_dataset(task="appear", num_train=setting.num_train, num_val=setting.num_val,
                                    num_frames=setting.num_frames, frame_size=setting.frame_size, seed=0)
    train_clips, train_labels, _ = bench.load_split(root, "train")
    val_clips, val_labels, _ = bench.load_split(root, "val")
    cpu = torch.device("cpu")
    recipe = (f"{setting.optimizer} lr {setting.lr:g}, weight decay {setting.weight_decay:g}, batch "
              f"{setting.batch_size}, {total}-epoch schedule")
    print(f"recipe: {recipe}; order {args.order}", flush=True)
    rows, runs = [], []
    for seed in args.seeds:
        for order_index in args.orders:
            net = bench.build_net(bench.default_variants(4)["backbone"], seed=seed, setting=setting,
                                  num_classes=int(train_labels.max()) + 1)
            moments, accuracies, step_log = None, [], []
            for epoch in range(args.epochs):
                first = len(step_log)
                moments = bench.train(net, train_clips, train_labels, epochs=1, lr=setting.lr, setting=setting,
                                      seed=seed, stage=order_stage(args.order, order_index, epoch), device=cpu,
                                      input_frames=None, schedule_epochs=total, start_epoch=epoch, moments=moments,
                                      step_log=step_log)
                predictions, _ = bench.evaluate(net, val_clips, val_labels, device=cpu, input_frames=None)
                accuracies.append((predictions == val_labels).float().mean().item())
                epoch_log = step_log[first:]
                row = {"seed": seed, "order": args.order, "order_index": order_index, "epoch": epoch,
                       "val_top1": accuracies[-1], "train_loss": statistics.fmean(x for x, _ in epoch_log),
                       "train_top1": statistics.fmean(a for _, a in epoch_log), "plateau_end_step": plateau_end(step_log),
                       "recipe": recipe}
                text = (f"seed {seed}, order {order_index}, epoch {epoch}: val top-1 {100 * row['val_top1']:.1f} %, "
                        f"train loss {row['train_loss']:.3f}, train top-1 {100 * row['train_top1']:.1f} %")
                if args.bn_checks:
                    row["val_top1_batch_stats"], row["val_top1_precise_bn"] = batchnorm_checks(
                        net, train_clips, val_clips, val_labels, batches=args.bn_checks, batch_size=setting.batch_size)
                    text += (f"; train-mode BN {100 * row['val_top1_batch_stats']:.1f} %, precise BN "
                             f"{100 * row['val_top1_precise_bn']:.1f} %")
                print(text, flush=True)
                rows.append(row)
            print(f"seed {seed}, order {order_index}: left chance (running train top-1 > {PLATEAU_LEVEL}) at step "
                  f"{plateau_end(step_log)} of {len(step_log)}", flush=True)
            runs.append(accuracies)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                fields = list(dict.fromkeys(key for row in rows for key in row))  # first-seen order
                with args.out.open("w", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=fields)
                    writer.writeheader()
                    writer.writerows(rows)
    finals = [100 * run[-1] for run in runs]
    spread = f" ± {statistics.stdev(finals):.1f}" if len(finals) > 1 else ""
    print(f"after epoch {args.epochs - 1}, over {len(finals)} runs: val top-1 {statistics.fmean(finals):.1f}{spread} % "
          f"(min {min(finals):.1f}, max {max(finals):.1f}); recipe: {recipe}", flush=True)
    return runs


if __name__ == "__main__":
    main()
