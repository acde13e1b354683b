"""``python -m atfr_lightning`` and ``python atfr_lightning/__main__.py`` (the sweeps' ``program``)."""

import sys
from pathlib import Path

if not __package__:
    # Run as a file (as the W&B agent and atfr-sweep do), Python puts this folder first on sys.path,
    # where the subpackage ``lightning/`` would shadow the real Lightning: put the project root there.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from atfr_lightning.cli import main  # noqa: E402

main()
