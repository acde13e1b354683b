"""The command line: ``atfr fit|validate|test|predict --config ...`` (LightningCLI)."""

from __future__ import annotations

import netrc
import os
from urllib.parse import urlparse

import lightning as L
from lightning.pytorch.cli import LightningCLI

from atfr_lightning.lightning.module import VideoClassifier


def wandb_logged_in() -> bool:
    """True when W&B credentials are present locally (API key variable or netrc entry).

    Reads files only: deciding whether to run offline must never touch the network.
    """
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = os.environ.get("NETRC", os.path.expanduser("~/.netrc"))
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def configure_wandb_mode() -> None:
    """Run W&B offline unless the user is logged in or chose a mode (``WANDB_MODE``)."""
    if "WANDB_MODE" not in os.environ and not wandb_logged_in():
        os.environ["WANDB_MODE"] = "offline"


class ATFRCLI(LightningCLI):
    """LightningCLI with the classifier fixed and any LightningDataModule by class path."""


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
    )


def main() -> None:
    """Console-script entry point (``atfr``); returns None so the exit status is 0."""
    run_cli()


if __name__ == "__main__":
    main()
