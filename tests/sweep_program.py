"""A stand-in training program for sweep tests: parses ``--key=value`` and logs a known metric to W&B.

score = 10 * x + y after the last epoch (epoch e logs score * (e + 1) / epochs), so every
run's final metric is known in advance. ``--fail=true`` exits with status 3 before logging anything.
"""

import json
import os
import sys
import time

import wandb


def main() -> None:
    args = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if arg.startswith("--"))
    if args.get("fail", "").lower() == "true":
        sys.exit(3)
    x, y = float(args.get("x", 0)), float(args.get("y", 0))
    epochs, pause = int(args.get("epochs", 1)), float(args.get("pause", 0))
    run = wandb.init(project="sweep-test", dir=args.get("save_dir", "."))
    for epoch in range(epochs):
        score = (10 * x + y) * (epoch + 1) / epochs
        run.log({"val/score": score, "epoch": epoch})
        if os.environ.get("ATFR_SWEEP_HISTORY"):  # the live channel the CLI's SweepHistoryWriter feeds
            with open(os.environ["ATFR_SWEEP_HISTORY"], "a") as handle:
                handle.write(json.dumps({"epoch": epoch, "val/score": score}) + "\n")
        time.sleep(pause)
    run.finish()


if __name__ == "__main__":
    main()
