"""Whether W&B runs online or offline, decided from local files only (no network, no Lightning)."""

from __future__ import annotations

import netrc
import os
from urllib.parse import urlparse


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


def wandb_mode() -> str:
    """The mode a new run should use: ``WANDB_MODE`` if set, else online when logged in, else offline."""
    if "WANDB_MODE" in os.environ:
        return os.environ["WANDB_MODE"]
    return "online" if wandb_logged_in() else "offline"


def configure_wandb_mode() -> None:
    """Run W&B offline unless the user is logged in or chose a mode (``WANDB_MODE``)."""
    os.environ["WANDB_MODE"] = wandb_mode()
