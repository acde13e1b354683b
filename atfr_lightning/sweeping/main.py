"""``atfr-sweep SWEEP_YAML [--count N] [--dir DIR] [--seed S] [-- EXTRA_CLI_ARGS...]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from atfr_lightning.sweeping.engine import hyperband_should_stop, propose
from atfr_lightning.sweeping.ledger import Ledger, SweepDirError
from atfr_lightning.sweeping.spec import SweepFileError, load_sweep
from atfr_lightning.sweeping.trial import run_trial


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atfr-sweep",
        description="Run a W&B sweep file without a W&B server: W&B's search engine (the sweeps "
        "library) proposes each run, the file's command trains it, DIR keeps the results.",
        epilog="Arguments after -- are appended to every run's command (e.g. -- --trainer.max_epochs=2).",
    )
    parser.add_argument("sweep", type=Path, help="a sweep YAML (e.g. experiments/sweeps/num_bins.yaml)")
    parser.add_argument("--count", type=int, default=None,
                        help="total runs in DIR to reach (required for random and bayes; a grid stops when exhausted)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the sweep's results live (default: runs/sweeps/<sweep name>); "
                        "starting again with the same DIR continues the sweep")
    parser.add_argument("--seed", type=int, default=0, help="seed of the engine's random proposals")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between checks of a running run")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        spec = load_sweep(args.sweep)
        if args.count is not None and args.count < 1:
            raise SweepFileError(f"--count is {args.count}; expected a positive number of runs")
        if spec.method != "grid" and args.count is None:
            raise SweepFileError(f"{spec.path}: a {spec.method} sweep never ends by itself; give --count N")
        ledger = Ledger(folder=args.dir or Path("runs/sweeps") / spec.name, spec=spec, extra_args=extra)
    except (SweepFileError, SweepDirError) as error:
        parser.error(str(error))
    trials = ledger.trials()
    print(f"atfr-sweep: {spec.name} ({spec.method}) in {ledger.folder}, W&B group {ledger.group}; "
          f"{len(trials)} run(s) already recorded")
    while args.count is None or len(trials) < args.count:
        params = propose(spec, trials, seed=args.seed)
        if params is None:
            print("atfr-sweep: the grid is exhausted")
            break
        # Unique per attempt: a run killed with the sweep must not share its W&B id with its rerun.
        run_id = f"{ledger.group.rsplit('-', 1)[-1]}{len(trials):03d}{os.urandom(2).hex()}"
        shown = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in params.items())
        print(f"[{len(trials) + 1}{'' if args.count is None else f'/{args.count}'}] run {run_id}: {shown}", flush=True)
        should_stop = None
        if spec.early_terminate is not None:
            should_stop = hyperband_should_stop(spec, trials, run_id=run_id, params=params)
        trial = run_trial(spec, run_id=run_id, params=params, group=ledger.group, extra_args=extra,
                          folder=ledger.folder, should_stop=should_stop, poll_s=args.poll)
        ledger.add(trial)
        trials.append(trial)
        value = "no metric" if trial.metric is None else f"{spec.metric_name} = {trial.metric:.4g}"
        note = f": {trial.error}" if trial.error else ""
        print(f"    {trial.state}, {value}, {trial.wall_time_s:.0f} s{note}", flush=True)
    ledger.write_tables()
    print(f"atfr-sweep: {len(trials)} run(s); table in {ledger.folder / 'sweep_results.md'}")
    return 0


def entry() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    entry()
