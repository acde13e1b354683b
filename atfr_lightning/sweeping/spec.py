"""A W&B sweep file, checked once, with what the serverless runner needs from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

METHODS = ("grid", "random", "bayes")
# Command macros the W&B agent expands (wandb/wandb_agent.py, Agent._command_run).
MACROS = (
    "env", "interpreter", "program", "args", "args_no_equals", "args_no_hyphens",
    "args_no_boolean_flags", "args_json", "args_json_file", "args_append_hydra", "args_override_hydra",
)
# The file a run appends each validation's metrics to (callbacks.SweepHistoryWriter), for hyperband.
HISTORY_ENV = "ATFR_SWEEP_HISTORY"
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]


class SweepFileError(ValueError):
    """A sweep file the runner cannot drive; the message names the file, the key and what is expected."""


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """One sweep file: ``config`` is the YAML as a dict (what the engine receives), ``name`` its stem."""

    path: Path
    name: str
    config: dict

    @property
    def method(self) -> str:
        return self.config["method"]

    @property
    def metric_name(self) -> str:
        return self.config["metric"]["name"]

    @property
    def goal(self) -> str:
        return self.config["metric"].get("goal", "minimize")

    @property
    def parameter_names(self) -> list[str]:
        return list(self.config["parameters"])

    @property
    def command(self) -> list[str]:
        return [str(c) for c in self.config.get("command", DEFAULT_COMMAND)]

    @property
    def early_terminate(self) -> dict | None:
        return self.config.get("early_terminate")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; raises :class:`SweepFileError` naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise SweepFileError(f"sweep file {str(path)!r} does not exist")
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise SweepFileError(f"{path}: expected a YAML mapping (method, metric, parameters, ...)")
    method = config.get("method")
    if method not in METHODS:
        raise SweepFileError(f"{path}: method is {method!r}; expected one of {', '.join(METHODS)}")
    metric = config.get("metric")
    if not isinstance(metric, dict) or not metric.get("name"):
        raise SweepFileError(f"{path}: metric.name is missing; the runner reads it from each run's summary")
    if metric.get("goal", "minimize") not in ("minimize", "maximize"):
        raise SweepFileError(f"{path}: metric.goal is {metric['goal']!r}; expected 'minimize' or 'maximize'")
    parameters = config.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise SweepFileError(f"{path}: parameters must map at least one name to its values")
    command = config.get("command", DEFAULT_COMMAND)
    if not isinstance(command, list) or not command:
        raise SweepFileError(f"{path}: command must be a non-empty list, got {command!r}")
    if "${program}" in command and not config.get("program"):
        raise SweepFileError(f"{path}: the command uses ${{program}} but the file names no program")
    for chunk in map(str, command):
        if chunk.startswith("${") and chunk.endswith("}") and chunk[2:-1] not in MACROS:
            raise SweepFileError(f"{path}: unknown command macro {chunk}; expected one of {MACROS}")
    early = config.get("early_terminate")
    if early is not None and early.get("type") != "hyperband":
        raise SweepFileError(
            f"{path}: early_terminate.type is {early.get('type')!r}; the engine supports only 'hyperband'"
        )
    return SweepSpec(path=path, name=config.get("name") or path.stem, config=config)
