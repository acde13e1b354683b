"""The bridge to W&B's search engine (the ``sweeps`` library): proposals and hyperband decisions."""

from __future__ import annotations

import random
import warnings

import numpy as np

from atfr_lightning.sweeping.ledger import Trial
from atfr_lightning.sweeping.spec import SweepSpec


def _sweeps():
    with warnings.catch_warnings():  # sweeps 0.2.0 declares a pydantic-v1 style config; harmless
        warnings.simplefilter("ignore")
        import sweeps
    return sweeps


def to_sweep_run(trial: Trial, spec: SweepSpec, *, running: bool = False):
    """A finished (or running) trial as the engine's ``SweepRun``: config, summary and metric history."""
    sweeps = _sweeps()
    metric = spec.metric_name
    state = sweeps.RunState.running if running else (
        sweeps.RunState.failed if trial.state == "failed" else sweeps.RunState.finished
    )
    # By alias: sweeps 0.2.0's pydantic-v1 option to populate by field name is ignored under pydantic
    # v2, so ``history=`` and ``summary_metrics=`` would be dropped silently (bayes and hyperband
    # would then see no metric at all).
    run = sweeps.SweepRun(
        name=trial.run_id,
        state=state,
        config={name: {"value": value} for name, value in trial.params.items()},
        summaryMetrics={} if trial.metric is None else {metric: trial.metric},
        sampledHistory=[{metric: value} for value in trial.history],
        stopped=trial.state == "stopped",
    )
    if trial.metric is not None and run.summary_metrics.get(metric) != trial.metric:
        raise RuntimeError("the sweeps engine dropped the run's metric; check the sweeps/pydantic versions")
    return run


def propose(spec: SweepSpec, trials: list[Trial], *, seed: int) -> dict | None:
    """The next run's parameters from the trials so far, or None when a grid is exhausted.

    The engine draws from numpy's and Python's global generators; seeding them from ``seed`` and
    the number of trials makes a sweep's proposals reproducible, including after a restart.
    """
    sweeps = _sweeps()
    state = np.random.get_state(), random.getstate()
    np.random.seed(seed + len(trials))
    random.seed(seed + len(trials))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suggestion = sweeps.next_run(spec.config, [to_sweep_run(t, spec) for t in trials])
    finally:
        np.random.set_state(state[0])
        random.setstate(state[1])
    if suggestion is None:
        return None
    return {name: spec_value["value"] for name, spec_value in suggestion.config.items()}


def hyperband_should_stop(spec: SweepSpec, trials: list[Trial], *, run_id: str, params: dict):
    """A ``should_stop(history)`` for :func:`run_trial`: the engine's hyperband verdict on the running run."""
    sweeps = _sweeps()
    finished = [to_sweep_run(t, spec) for t in trials]

    def should_stop(history: list[float]) -> bool:
        current = to_sweep_run(
            Trial(run_id=run_id, params=params, state="finished", history=history), spec, running=True
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return any(run.name == run_id for run in sweeps.stop_runs(spec.config, [*finished, current]))

    return should_stop
