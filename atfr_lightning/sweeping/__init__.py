"""Serverless W&B sweeps: the sweep files of ``experiments/sweeps/`` driven by W&B's own search engine.

``atfr-sweep SWEEP_YAML --dir DIR`` asks the ``sweeps`` library (the engine behind W&B's sweep server:
grid, random, bayes, hyperband) for each run's parameters, runs the file's ``command`` as the W&B
agent would, reads the metric back from the run's own W&B summary and keeps the sweep's state in
``DIR`` so a killed sweep continues where it stopped. No server, no network, no Lightning import.
"""

from atfr_lightning.sweeping.ledger import Ledger, Trial
from atfr_lightning.sweeping.spec import SweepSpec, load_sweep

__all__ = ["Ledger", "SweepSpec", "Trial", "load_sweep"]
