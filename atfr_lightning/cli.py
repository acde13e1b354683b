"""The command line: ``atfr fit|validate|test|predict --config ...`` (LightningCLI)."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO

from atfr_lightning.callbacks.sweep_history import sweep_history_callbacks
from atfr_lightning.lightning.module import VideoClassifier
from atfr_lightning.lightning.resume import AtomicCheckpointIO
from atfr_lightning.wandb_mode import configure_wandb_mode, wandb_logged_in  # noqa: F401 (public here too)


class ATFRCLI(LightningCLI):
    """LightningCLI with the classifier fixed and any LightningDataModule by class path.

    Checkpoints are written atomically (:class:`AtomicCheckpointIO`) unless the config chose
    another checkpoint IO.
    """

    def instantiate_trainer(self, **kwargs) -> L.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer


def run_cli(args: list[str] | None = None, *, run: bool = True) -> ATFRCLI:
    """Build (and by default run) the CLI; returns it so tests can inspect trainer and model."""
    configure_wandb_mode()
    return ATFRCLI(
        VideoClassifier,
        L.LightningDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
        auto_configure_optimizers=False,
        # Under atfr-sweep, report each validation's metrics live (for hyperband); nothing otherwise.
        trainer_defaults={"callbacks": sweep_history_callbacks()},
    )


def main() -> None:
    """Console-script entry point (``atfr``); returns None so the exit status is 0."""
    run_cli()


if __name__ == "__main__":
    main()
