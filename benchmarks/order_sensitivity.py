"""How much the order of the training clips alone moves the backbone (the recipe's instability).

Trains the accuracy-vs-GFLOPs benchmark's backbone (same loop, optimiser and 8-epoch schedule) for
``--epochs`` epochs from the same initial weights, either with one permutation of the clips reused
in every epoch (``--order fixed``) or a new seeded permutation per epoch (``--order per_epoch``),
and prints validation top-1 after every epoch.

Run: ``python benchmarks/order_sensitivity.py --order fixed`` and ``--order per_epoch`` (about 5
minutes each on 2 CPU cores). Figures: docs/sgs.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_vs_gflops as bench  # noqa: E402

from atfr_lightning.data import ensure_synthetic_dataset  # noqa: E402


def main(argv: list[str] | None = None) -> list[float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(bench.SETTINGS), default="cpu")
    parser.add_argument("--order", choices=("fixed", "per_epoch"), required=True)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the 8-epoch schedule to train")
    parser.add_argument("--seed", type=int, default=0, help="initial weights")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    setting = bench.SETTINGS[args.setting]
    root = ensure_synthetic_dataset(task="appear", num_train=setting.num_train, num_val=setting.num_val,
                                    num_frames=setting.num_frames, frame_size=setting.frame_size, seed=0)
    train_clips, train_labels, _ = bench.load_split(root, "train")
    val_clips, val_labels, _ = bench.load_split(root, "val")
    cpu = torch.device("cpu")
    net = bench.build_net(bench.default_variants(4)["backbone"], seed=args.seed, setting=setting,
                          num_classes=int(train_labels.max()) + 1)
    total = setting.backbone_epochs + setting.finetune_epochs
    moments, accuracies = None, []
    for epoch in range(args.epochs):
        # `train` seeds its permutation with (seed, stage, its own epoch 0): one stage per epoch
        # gives a new order each epoch, a constant stage the same order every epoch.
        stage = 10 + epoch if args.order == "per_epoch" else 1
        moments = bench.train(net, train_clips, train_labels, epochs=1, lr=setting.lr, setting=setting, seed=args.seed,
                              stage=stage, device=cpu, input_frames=None, schedule_epochs=total, start_epoch=epoch,
                              moments=moments)
        predictions, _ = bench.evaluate(net, val_clips, val_labels, device=cpu, input_frames=None)
        accuracies.append((predictions == val_labels).float().mean().item())
        print(f"order {args.order}, epoch {epoch}: val top-1 {100 * accuracies[-1]:.1f} %", flush=True)
    return accuracies


if __name__ == "__main__":
    main()
