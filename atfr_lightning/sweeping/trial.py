"""Run one trial: the sweep's command with its parameters, as the W&B agent would, and read its metric."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from atfr_lightning.inspection.wandb_offline import find_run_by_id, read_history, read_summary
from atfr_lightning.sweeping.ledger import Trial
from atfr_lightning.sweeping.spec import HISTORY_ENV, SweepSpec
from atfr_lightning.wandb_mode import wandb_mode


def build_command(spec: SweepSpec, params: dict, *, extra_args: list[str], args_json_file: Path) -> list[str]:
    """The command list of ``wandb agent`` (``Agent._command_run``) with ``extra_args`` appended.

    The interpreter is the one running this sweep (the agent uses ``python`` from ``PATH``), so a
    sweep started from a virtual environment trains in it.
    """
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    variables = sweep_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    variables.update(
        env=["/usr/bin/env"], interpreter=[sys.executable],
        program=[str(spec.config.get("program", ""))], args_json_file=[str(args_json_file)],
    )
    if "${args_json_file}" in spec.command:
        args_json_file.write_text(variables["args_json"][0])
    command: list[str] = []
    for chunk in sweep_utils.create_sweep_command(list(spec.command)):
        chunk = str(chunk)
        command += (variables.get(chunk[2:-1]) or []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return command + list(extra_args)


def _live_rows(path: Path) -> list[dict]:
    """The run's ``ATFR_SWEEP_HISTORY`` file so far (complete lines only)."""
    if not path.exists():
        return []
    lines = path.read_text().split("\n")[:-1]  # the text after the last newline may be half-written
    return [json.loads(line) for line in lines if line.strip()]


def _live_history(path: Path, metric: str) -> list[float]:
    return [float(row[metric]) for row in _live_rows(path) if isinstance(row.get(metric), (int, float))]


def _find_run(live: Path, roots: list[Path], run_id: str) -> Path | None:
    """The run's W&B folder: as the run reported it, else searched for by its id under ``roots``."""
    for row in _live_rows(live):
        if "wandb_run_dir" in row and Path(row["wandb_run_dir"]).is_dir():
            return Path(row["wandb_run_dir"])
    return find_run_by_id(roots, run_id)


def _metric_history(run_dir: Path | None, metric: str) -> list[float]:
    if run_dir is None:
        return []
    try:
        rows = read_history(run_dir)
    except (ValueError, OSError):  # the run's log is being created
        return []
    return [float(row[metric]) for row in rows if isinstance(row.get(metric), (int, float))]


def run_trial(
    spec: SweepSpec,
    *,
    run_id: str,
    params: dict,
    group: str,
    extra_args: list[str],
    folder: Path,
    should_stop: Callable[[list[float]], bool] | None = None,
    poll_s: float = 2.0,
    stop_grace_s: float = 30.0,
) -> Trial:
    """Run the command to its end (or until ``should_stop(history)`` says so) and return its Trial.

    The run is a W&B run with id ``run_id`` in group ``group`` (offline unless logged in); its metric
    is the last value of ``spec.metric_name`` in the run's own summary.
    """
    log_dir = folder / "logs"
    log_dir.mkdir(exist_ok=True)
    command = build_command(spec, params, extra_args=extra_args, args_json_file=log_dir / f"{run_id}.json")
    # Each run starts its own W&B service: a service inherited from a process that already used W&B
    # (WANDB_SERVICE) writes the run's log asynchronously, after the run's process has exited.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_SERVICE", "WANDB__SERVICE"))}
    live = log_dir / f"{run_id}.history.jsonl"
    env.update(WANDB_RUN_ID=run_id, WANDB_RUN_GROUP=group, WANDB_JOB_TYPE="sweep", WANDB_MODE=wandb_mode())
    env[HISTORY_ENV] = str(live)
    if spec.config.get("project"):
        env.setdefault("WANDB_PROJECT", str(spec.config["project"]))
    roots = [Path.cwd(), folder]
    start = time.monotonic()
    stopped = False
    with (log_dir / f"{run_id}.log").open("w") as log:
        log.write(" ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while process.poll() is None:
                time.sleep(poll_s)
                if should_stop is not None and not stopped:
                    history = _live_history(live, spec.metric_name)
                    if history and should_stop(history):
                        stopped = True
                        process.send_signal(signal.SIGTERM)  # as the agent does; SIGKILL after a grace
                        try:
                            process.wait(timeout=stop_grace_s)
                        except subprocess.TimeoutExpired:
                            process.kill()
        except BaseException:  # the sweep itself was interrupted: do not leave the run behind
            process.kill()
            process.wait()
            raise
    wall = time.monotonic() - start
    run_dir = _find_run(live, roots, run_id)
    trial = Trial(run_id=run_id, params=params, state="finished", wall_time_s=wall,
                  run_dir=None if run_dir is None else str(run_dir))
    # The W&B history is authoritative once the run has ended; the live file covers runs without W&B.
    trial.history = _metric_history(run_dir, spec.metric_name) or _live_history(live, spec.metric_name)
    summary = {}
    if run_dir is not None:
        try:
            summary = read_summary(run_dir)
        except (ValueError, OSError) as error:
            trial.error = f"unreadable W&B run {run_dir}: {error}"
    value = summary.get(spec.metric_name)
    if isinstance(value, (int, float)) and math.isfinite(value):
        trial.metric = float(value)
    if stopped:
        trial.state = "stopped"
    elif process.returncode != 0:
        trial.state = "failed"
        trial.error = trial.error or f"exit status {process.returncode} (log: {log_dir / f'{run_id}.log'})"
    elif run_dir is None:
        trial.state = "failed"
        trial.error = f"no W&B run with id {run_id} under {roots[0]} or {folder}; does the command log to W&B?"
    elif trial.metric is None:
        trial.state = "failed"
        shown = json.dumps(value) if value is not None else "absent"
        trial.error = f"{spec.metric_name} is {shown} in the run's summary; expected a finite number"
    return trial
