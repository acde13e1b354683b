"""Every sweep in experiments/sweeps/ expands, as the W&B agent would, into commands the CLI parses."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml
from wandb.sdk.launch.sweeps import utils as sweep_utils

from atfr_lightning.cli import run_cli

REPO = Path(__file__).resolve().parents[1]
SWEEPS = sorted((REPO / "experiments" / "sweeps").glob("*.yaml"))


def _values(spec: dict) -> list:
    """Values a parameter can take: its list, or for a distribution its bounds and geometric middle."""
    if "values" in spec:
        return list(spec["values"])
    if "value" in spec:
        return [spec["value"]]
    low, high = spec["min"], spec["max"]
    if spec.get("distribution") == "log_uniform_values":
        return [low, math.sqrt(low * high), high]
    if spec.get("distribution") in ("uniform", "int_uniform"):
        return [low, (low + high) / 2 if spec["distribution"] == "uniform" else (low + high) // 2, high]
    raise ValueError(f"add the distribution {spec.get('distribution')!r} to this test")


def _agent_command(sweep: dict, params: dict) -> list[str]:
    """The command line wandb's agent builds (wandb_agent.Agent._command_run), with wandb's helpers."""
    command = sweep_utils.create_sweep_command(list(sweep["command"]))
    sweep_vars = sweep_utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    sweep_vars.update(interpreter=["python"], program=[sweep["program"]], env=["/usr/bin/env"])
    expanded = []
    for chunk in map(str, command):
        expanded += (sweep_vars.get(chunk[2:-1]) or []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return expanded


def test_there_is_a_sweep_per_ablation():
    assert {p.stem for p in SWEEPS} >= {"num_bins", "latent_dim", "distance", "kernel", "insertion_stage", "learning_rate"}


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_commands_parse(path, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the agent runs from the repository root: the paths are relative to it
    sweep = yaml.safe_load(path.read_text())
    assert sweep["method"] in ("grid", "random", "bayes")
    assert sweep["metric"]["name"].startswith("val/")
    assert (REPO / sweep["program"]).is_file()
    names = list(sweep["parameters"])
    for combination in itertools.product(*(_values(sweep["parameters"][n]) for n in names)):
        params = dict(zip(names, combination))
        command = _agent_command(sweep, params)
        assert command[:3] == ["/usr/bin/env", "python", sweep["program"]]
        assert command[3] == "fit", "sweeps train"
        assert [f"--{k}={v}" for k, v in params.items()] == command[-len(params) :]
        # run=False parses and instantiates without the subcommand; keep the test's files in tmp_path.
        args = command[4:] + [f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}"]
        cli = run_cli(args, run=False)
        for key, value in params.items():
            parsed = _lookup(cli.config, key)
            assert parsed == (pytest.approx(value) if isinstance(value, float) else value)
        assert cli.model.net is not None


def _lookup(config, dotted: str):
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node
