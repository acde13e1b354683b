"""The sweep's record in ``DIR``: one line per finished trial, and the tables and figure made from them.

``trials.jsonl`` is the source of truth (typed parameter values and each run's metric history, which
the engine needs to resume a sweep); ``sweep_results.csv``, ``sweep_results.md`` and
``sweep_results.png`` are rewritten from it after every trial. ``sweep.json`` pins the sweep file and
the extra CLI arguments, so a ``DIR`` is never continued with a different sweep.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from atfr_lightning.sweeping.spec import SweepSpec

STATES = ("finished", "failed", "stopped")  # stopped: ended early by hyperband


class SweepDirError(ValueError):
    """``DIR`` holds another sweep (different file contents or extra arguments)."""


@dataclass(kw_only=True)
class Trial:
    """One run of the sweep as it ended: parameters, the final metric and its history, state, time."""

    run_id: str
    params: dict
    state: str
    metric: float | None = None
    history: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0
    run_dir: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"trial state {self.state!r}; expected one of {STATES}")


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a kill never leaves a half-written table."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else json.dumps(value)


class Ledger:
    """The trials of one sweep kept in ``folder`` (created on first use)."""

    def __init__(self, *, folder: str | Path, spec: SweepSpec, extra_args: list[str]) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.folder.mkdir(parents=True, exist_ok=True)
        self.group = self._pin(extra_args)
        self._drop_partial_line()

    @property
    def trials_path(self) -> Path:
        return self.folder / "trials.jsonl"

    def _pin(self, extra_args: list[str]) -> str:
        """Record the sweep in ``sweep.json`` or check that ``folder`` holds this same sweep."""
        state_path = self.folder / "sweep.json"
        wanted = {"sweep_file": str(self.spec.path), "config": self.spec.config, "extra_args": list(extra_args)}
        if state_path.exists():
            pinned = json.loads(state_path.read_text())
            for key in ("config", "extra_args"):
                if pinned[key] != wanted[key]:
                    raise SweepDirError(
                        f"{self.folder} holds a sweep with other {key.replace('_', ' ')} "
                        f"({pinned[key]!r}, now {wanted[key]!r}); continue it unchanged or use another --dir"
                    )
            return pinned["group"]
        group = f"sweep-{self.spec.name}-{os.urandom(3).hex()}"
        _atomic_write(state_path, json.dumps({**wanted, "group": group}, indent=2))
        return group

    def _drop_partial_line(self) -> None:
        """A kill mid-append can leave a partial last line: that trial did not finish, so it reruns."""
        if not self.trials_path.exists():
            return
        text = self.trials_path.read_text()
        if text and not text.endswith("\n"):
            _atomic_write(self.trials_path, text[: text.rfind("\n") + 1])

    def trials(self) -> list[Trial]:
        if not self.trials_path.exists():
            return []
        return [Trial(**json.loads(line)) for line in self.trials_path.read_text().splitlines() if line.strip()]

    def add(self, trial: Trial) -> None:
        with self.trials_path.open("a") as handle:
            handle.write(json.dumps(asdict(trial)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.write_tables()

    def write_tables(self) -> None:
        trials = self.trials()
        names = self.spec.parameter_names
        metric = self.spec.metric_name
        header = ["run_id", *names, metric, "state", "wall_time_s", "error"]
        rows = [
            [t.run_id, *(_cell(t.params.get(n)) for n in names), _cell(t.metric), t.state,
             f"{t.wall_time_s:.1f}", t.error or ""]
            for t in trials
        ]
        csv_path = self.folder / "sweep_results.csv"
        tmp = csv_path.with_name(csv_path.name + ".tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, csv_path)
        _atomic_write(self.folder / "sweep_results.md", self.markdown(trials))
        if any(t.metric is not None for t in trials):
            from atfr_lightning.sweeping.plot import plot_trials

            plot_trials(trials, spec=self.spec, path=self.folder / "sweep_results.png")

    def markdown(self, trials: list[Trial]) -> str:
        """Trials best first (by the sweep's goal); runs without a metric last."""
        names = self.spec.parameter_names
        metric = self.spec.metric_name
        sign = -1.0 if self.spec.goal == "maximize" else 1.0
        ordered = sorted(trials, key=lambda t: (t.metric is None, sign * (t.metric or 0.0)))
        lines = [
            f"Sweep `{self.spec.name}` ({self.spec.method}, {self.spec.goal} `{metric}`), group `{self.group}`",
            "",
            "| run | " + " | ".join(f"`{n.split('.')[-1]}`" for n in names) + f" | {metric} | state | wall time (s) |",
            "|" + " --- |" * (len(names) + 4),
        ]
        for t in ordered:
            value = "" if t.metric is None else f"{t.metric:.4g}"
            params = " | ".join(_cell(t.params.get(n)) for n in names)
            lines.append(f"| {t.run_id} | {params} | {value} | {t.state} | {t.wall_time_s:.0f} |")
        return "\n".join(lines) + "\n"
