"""atfr-sweep on a stand-in program: grid, resume, failures, random/bayes proposals, hyperband, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from atfr_lightning.inspection.wandb_offline import iter_records, read_summary
from atfr_lightning.sweeping.ledger import Ledger, SweepDirError
from atfr_lightning.sweeping.main import main
from atfr_lightning.sweeping.spec import SweepFileError, load_sweep

PROGRAM = Path(__file__).with_name("sweep_program.py")


def _write_sweep(tmp_path: Path, **overrides) -> Path:
    sweep = {
        "program": str(PROGRAM),
        "method": "grid",
        "metric": {"name": "val/score", "goal": "maximize"},
        "command": ["${env}", "${interpreter}", "${program}", "${args}"],
        "parameters": {"x": {"values": [1, 2]}, "y": {"values": [0.5, 1.5, 2.5]}},
    }
    sweep.update(overrides)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def _rows(folder: Path) -> list[dict]:
    with (folder / "sweep_results.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs write their W&B folders under the working directory
    monkeypatch.setenv("WANDB_MODE", "offline")


def test_grid_runs_every_point_once_and_reads_each_runs_own_summary(tmp_path, capsys):
    sweep = _write_sweep(tmp_path)
    folder = tmp_path / "out"
    assert main([str(sweep), "--dir", str(folder), "--poll", "0.2", "--", f"--save_dir={tmp_path}"]) == 0
    rows = _rows(folder)
    assert len(rows) == 6 and {r["state"] for r in rows} == {"finished"}
    assert {(json.loads(r["x"]), json.loads(r["y"])) for r in rows} == {
        (x, y) for x in (1, 2) for y in (0.5, 1.5, 2.5)
    }
    trials = {t["run_id"]: t for t in map(json.loads, (folder / "trials.jsonl").read_text().splitlines())}
    for row in rows:
        expected = 10 * json.loads(row["x"]) + json.loads(row["y"])
        assert float(row["val/score"]) == pytest.approx(expected)
        # The figure is the run's own W&B summary, found by its run id, and the run sits in the group.
        summary = read_summary(trials[row["run_id"]]["run_dir"])
        assert summary["val/score"] == pytest.approx(expected)
    group = json.loads((folder / "sweep.json").read_text())["group"]
    assert group in (folder / "sweep_results.md").read_text()
    assert (folder / "sweep_results.png").stat().st_size > 0
    assert "the grid is exhausted" in capsys.readouterr().out


def test_killed_sweep_continues_without_repeating_finished_points(tmp_path):
    sweep = _write_sweep(tmp_path)
    folder = tmp_path / "out"
    main([str(sweep), "--count", "2", "--dir", str(folder), "--poll", "0.2"])
    first = [(r["x"], r["y"]) for r in _rows(folder)]
    assert len(first) == 2
    # A kill mid-append leaves a partial line: that trial is treated as not finished.
    with (folder / "trials.jsonl").open("a") as handle:
        handle.write('{"run_id": "half')
    main([str(sweep), "--dir", str(folder), "--poll", "0.2"])
    points = [(r["x"], r["y"]) for r in _rows(folder)]
    assert len(points) == 6 and len(set(points)) == 6 and points[:2] == first
    logs_before = sorted((folder / "logs").glob("*.log"))
    main([str(sweep), "--dir", str(folder), "--poll", "0.2"])
    assert sorted((folder / "logs").glob("*.log")) == logs_before, "a finished grid starts no new run"


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = _write_sweep(tmp_path, parameters={"fail": {"values": [True, False]}, "x": {"value": 1}})
    folder = tmp_path / "out"
    main([str(sweep), "--dir", str(folder), "--poll", "0.2"])
    rows = {r["fail"]: r for r in _rows(folder)}
    assert rows["true"]["state"] == "failed" and "exit status 3" in rows["true"]["error"]
    assert rows["true"]["val/score"] == ""
    assert rows["false"]["state"] == "finished" and float(rows["false"]["val/score"]) == 10.0


def test_random_and_bayes_need_a_count_and_are_reproducible(tmp_path):
    params = {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [0, 1]}}
    random_sweep = _write_sweep(tmp_path, method="random", parameters=params)
    with pytest.raises(SystemExit):
        main([str(random_sweep), "--dir", str(tmp_path / "none")])
    draws = []
    for name in ("a", "b"):
        main([str(random_sweep), "--count", "2", "--dir", str(tmp_path / name), "--poll", "0.2", "--seed", "7"])
        draws.append([(r["x"], r["y"]) for r in _rows(tmp_path / name)])
    assert draws[0] == draws[1] and len(set(draws[0])) == 2
    bayes = _write_sweep(tmp_path, method="bayes", parameters=params)
    main([str(bayes), "--count", "3", "--dir", str(tmp_path / "bayes"), "--poll", "0.2"])
    rows = _rows(tmp_path / "bayes")
    assert len(rows) == 3 and all(r["state"] == "finished" for r in rows)
    for row in rows:
        assert float(row["val/score"]) == pytest.approx(10 * float(row["x"]) + float(row["y"]))


def test_hyperband_stops_a_run_that_trails_the_band(tmp_path):
    # Run 1 (x=2) finishes with a rising history; run 2 (x=0.1) trails it at the first band and is stopped.
    sweep = _write_sweep(
        tmp_path,
        parameters={"x": {"values": [2, 0.1]}, "epochs": {"value": 12}, "pause": {"value": 0.5}},
        early_terminate={"type": "hyperband", "min_iter": 2, "eta": 3},
    )
    folder = tmp_path / "out"
    main([str(sweep), "--dir", str(folder), "--poll", "0.2"])
    rows = {json.loads(r["x"]): r for r in _rows(folder)}
    assert rows[2]["state"] == "finished" and float(rows[2]["val/score"]) == pytest.approx(20.0)
    assert rows[0.1]["state"] == "stopped"
    trials = {t["params"]["x"]: t for t in map(json.loads, (folder / "trials.jsonl").read_text().splitlines())}
    assert len(trials[2]["history"]) == 12 and 2 < len(trials[0.1]["history"]) < 12


def test_a_dir_is_never_continued_with_another_sweep(tmp_path):
    sweep = _write_sweep(tmp_path)
    Ledger(folder=tmp_path / "out", spec=load_sweep(sweep), extra_args=["--epochs=1"])
    with pytest.raises(SweepDirError, match="extra args"):
        Ledger(folder=tmp_path / "out", spec=load_sweep(sweep), extra_args=["--epochs=2"])
    other = _write_sweep(tmp_path, method="random")
    with pytest.raises(SweepDirError, match="config"):
        Ledger(folder=tmp_path / "out", spec=load_sweep(other), extra_args=["--epochs=1"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"method": "evolution"}, "method is 'evolution'"),
        ({"metric": {"goal": "maximize"}}, "metric.name is missing"),
        ({"command": ["${program}", "${argz}"]}, r"unknown command macro \$\{argz\}"),
        ({"early_terminate": {"type": "median"}}, "supports only 'hyperband'"),
        ({"parameters": {}}, "at least one"),
    ],
)
def test_bad_sweep_files_name_the_problem(tmp_path, overrides, message):
    with pytest.raises(SweepFileError, match=message):
        load_sweep(_write_sweep(tmp_path, **overrides))


def test_the_engine_sees_each_trials_metric_and_history(tmp_path):
    """sweeps 0.2.0 under pydantic v2 silently drops fields given by name; bayes and hyperband need them."""
    from atfr_lightning.sweeping.engine import to_sweep_run
    from atfr_lightning.sweeping.ledger import Trial

    spec = load_sweep(_write_sweep(tmp_path))
    run = to_sweep_run(Trial(run_id="a", params={"x": 1}, state="finished", metric=0.5, history=[0.2, 0.5]), spec)
    assert run.summary_metric("val/score") == 0.5
    assert run.metric_history("val/score") == [0.2, 0.5]
    assert run.config == {"x": {"value": 1}}


@pytest.mark.slow
def test_num_bins_sweep_end_to_end_through_the_cli_and_resumed(tmp_path, monkeypatch):
    """The issue's command: two grid points of experiments/sweeps/num_bins.yaml with a tiny budget."""
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(repo)  # the sweep's program and config paths are relative to the repository root
    folder = tmp_path / "sweep"
    extra = [
        "--trainer.max_steps=2", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=2",
        "--model.sgs_start_epoch=0", "--data.init_args.num_train=16", "--data.init_args.num_val=8",
        "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
        f"--data.init_args.root={tmp_path / 'data'}", f"--trainer.default_root_dir={tmp_path / 'train'}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'train'}", "--trainer.enable_progress_bar=false",
    ]
    command = [str(repo / "experiments/sweeps/num_bins.yaml"), "--count", "2", "--dir", str(folder), "--", *extra]
    assert main(command) == 0
    rows = _rows(folder)
    assert [r["state"] for r in rows] == ["finished", "finished"], rows
    assert {json.loads(r["model.net.init_args.num_bins"]) for r in rows} == {4, 8}
    trials = {t["run_id"]: t for t in map(json.loads, (folder / "trials.jsonl").read_text().splitlines())}
    for row in rows:
        summary = read_summary(trials[row["run_id"]]["run_dir"])
        assert float(row["val/top1"]) == summary["val/top1"]  # the run's own summary, not a re-evaluation
        (run,) = [r.run for r in iter_records(next(Path(trials[row["run_id"]]["run_dir"]).glob("*.wandb")))
                  if r.WhichOneof("record_type") == "run"]
        assert run.run_id == row["run_id"] and run.run_group == json.loads((folder / "sweep.json").read_text())["group"]
        live = folder / "logs" / f"{row['run_id']}.history.jsonl"
        assert json.loads(live.read_text().splitlines()[-1])["val/top1"] == summary["val/top1"]
    logs = sorted((folder / "logs").glob("*.log"))
    assert main(command) == 0  # the same --dir: both points are done, nothing runs again
    assert sorted((folder / "logs").glob("*.log")) == logs and len(_rows(folder)) == 2


def test_runs_do_not_share_the_callers_wandb_service(tmp_path, monkeypatch):
    """A caller that already used W&B exports WANDB_SERVICE; a run attached to it could end before its log is written."""
    monkeypatch.setenv("WANDB_SERVICE", "2-99999-tcp-localhost-1")  # a service that does not exist
    sweep = _write_sweep(tmp_path, parameters={"x": {"value": 1}})
    main([str(sweep), "--dir", str(tmp_path / "out"), "--poll", "0.2"])
    (row,) = _rows(tmp_path / "out")
    assert row["state"] == "finished" and float(row["val/score"]) == 10.0
