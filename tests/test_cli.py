"""The LightningCLI entry point on the synthetic set: fast_dev_run and a tiny full fit."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from atfr_lightning.cli import configure_wandb_mode, run_cli, wandb_logged_in

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "experiments" / "synthetic" / "x3d_sgs.yaml")


def _small_args(tmp_path: Path) -> list[str]:
    return [
        f"--data.init_args.root={tmp_path / 'data'}",
        "--data.init_args.num_train=10",
        "--data.init_args.num_val=10",
        "--data.init_args.num_frames=8",
        "--data.init_args.batch_size=5",
        "--data.init_args.num_workers=0",
        # One-epoch runs: SGS from the start (the config's warm start needs more epochs).
        "--model.sgs_start_epoch=0",
        f"--trainer.default_root_dir={tmp_path / 'run'}",
        "--trainer.enable_progress_bar=false",
    ]


def test_fit_fast_dev_run(tmp_path):
    cli = run_cli(["fit", "--config", CONFIG, "--trainer.fast_dev_run=true", *_small_args(tmp_path)])
    assert cli.trainer.state.finished
    assert cli.model.net.sgs is not None


def test_fit_prints_summary_and_writes_wandb_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    args = _small_args(tmp_path) + [
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'run'}",
    ]
    cli = run_cli(["fit", "--config", CONFIG, *args])
    out = capsys.readouterr().out
    assert "top-1 accuracy" in out and "GFLOPs (fvcore, multiply-adds, one clip)" in out
    summary_files = list((tmp_path / "run").rglob("summary.json"))
    assert summary_files, "the run folder holds summary.json"
    val = json.loads(summary_files[0].read_text())["val"]
    assert val["clips"] == 10
    assert 1 <= val["mean_bins"]["sgs"] <= 8
    assert 0 < val["gflops_per_clip"] <= val["backbone_gflops"] * 1.05
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*")), "an offline W&B run was written"
    assert cli.trainer.callback_metrics["val/gflops/mean"] > 0


def test_wandb_mode_offline_without_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))
    assert not wandb_logged_in()
    configure_wandb_mode()
    import os

    assert os.environ["WANDB_MODE"] == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_logged_in()


@pytest.mark.parametrize(
    # The file form is the sweeps' program: run as a file, the subpackage lightning/ must not shadow Lightning.
    "entry", [["-m", "atfr_lightning"], ["-m", "atfr_lightning.cli"], ["atfr_lightning/__main__.py"]]
)
def test_module_entry_points_print_help(entry):
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, *entry, "--help"], capture_output=True, text=True, timeout=120, cwd=repo
    )
    assert result.returncode == 0, result.stderr
    assert "fit" in result.stdout and "validate" in result.stdout


def test_main_config_warm_start_and_its_backbone_control(tmp_path, capsys, monkeypatch):
    """The main job's warm start through the CLI: epoch 0 without SGS, epoch 1 with it; sgs=false runs."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    args = [a for a in _small_args(tmp_path) if not a.startswith("--model.sgs_start_epoch")] + [
        "--trainer.max_epochs=2",
        "--trainer.limit_train_batches=2",
        "--model.sgs_start_epoch=1",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'run'}",
    ]
    cli = run_cli(["fit", "--config", CONFIG, *args])
    assert cli.model.net.sgs_enabled
    val = json.loads(next(tmp_path.rglob("summary.json")).read_text())["val"]
    assert 1 <= val["mean_bins"]["sgs"] <= 4  # the config's num_bins
    control = run_cli(["fit", "--config", CONFIG, *args, "--model.net.init_args.sgs=false",
                       f"--trainer.default_root_dir={tmp_path / 'control'}",
                       f"--trainer.logger.init_args.save_dir={tmp_path / 'control'}"])
    assert control.model.net.sgs is None and control.trainer.current_epoch == 2


def test_clip_shape_and_classes_are_given_once_by_the_data(tmp_path, capsys):
    """num_frames / crop_size / num_classes come from data (link_arguments); a model override is refused."""
    args = ["--config", CONFIG, "--trainer.logger=false", f"--data.init_args.root={tmp_path / 'data'}"]
    cli = run_cli([*args, "--data.init_args.num_frames=8", "--data.init_args.frame_size=64",
                   "--data.init_args.crop_size=64"], run=False)
    assert (cli.model.net.num_frames, cli.model.net.crop_size) == (8, 64) == (
        cli.datamodule.num_frames, cli.datamodule.crop_size
    )
    assert cli.model.net.num_classes == cli.datamodule.num_classes == 5
    for key in ("num_frames", "crop_size", "num_classes"):
        with pytest.raises(SystemExit):
            run_cli([*args, f"--model.net.init_args.{key}=8"], run=False)
        assert f"model.net.init_args.{key} is given by the data" in capsys.readouterr().err
