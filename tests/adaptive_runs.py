"""Tiny synthetic runs shared by the callback and notebook tests (one of each per session)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "experiments" / "synthetic" / "x3d_sgs.yaml")
NUM_VAL = 10
NUM_FRAMES = 8


@contextmanager
def _env(**values: str):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def small_args(data_root: Path, run_dir: Path) -> list[str]:
    return [
        f"--data.init_args.root={data_root}",
        "--data.init_args.num_train=10",
        f"--data.init_args.num_val={NUM_VAL}",
        f"--data.init_args.num_frames={NUM_FRAMES}",
        "--data.init_args.batch_size=5",
        "--data.init_args.num_workers=0",
        "--model.sgs_start_epoch=0",  # one-epoch runs: SGS from the start
        f"--trainer.default_root_dir={run_dir}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


def wandb_offline_run(data_root: Path, run_dir: Path):
    """fit for one epoch (2 training steps) and one validation epoch, W&B offline; returns the CLI."""
    import wandb

    from atfr_lightning.cli import run_cli

    wandb.finish()  # a run still open in this process would take this run's records
    wandb.teardown()
    with _env(WANDB_MODE="offline", WANDB_SILENT="true"):
        cli = run_cli(
            [
                "fit",
                "--config",
                CONFIG,
                *small_args(data_root, run_dir),
                "--trainer.max_epochs=1",
                "--trainer.num_sanity_val_steps=0",
                f"--trainer.logger.init_args.save_dir={run_dir}",
            ]
        )
        # The W&B core process writes the run file asynchronously: finish ends the run and
        # teardown stops the core, so every record is on disk and the next run re-reads WANDB_MODE
        # (wandb caches its settings per process).
        wandb.finish()
        wandb.teardown()
    return cli


def wandb_off_run(data_root: Path, run_dir: Path):
    """validate with the config's WandbLogger but WANDB_MODE=disabled; the callbacks write CSV and PNG."""
    import wandb

    from atfr_lightning.cli import run_cli

    args = [*small_args(data_root, run_dir), f"--trainer.logger.init_args.save_dir={run_dir}"]
    wandb.teardown()  # forget settings cached by an earlier run in this process
    with _env(WANDB_MODE="disabled"):
        cli = run_cli(["validate", "--config", CONFIG, *args])
        wandb.finish()
        wandb.teardown()
    return cli
