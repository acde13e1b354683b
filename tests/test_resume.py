"""Exact resume through the CLI: a run stopped mid-epoch (or killed) and resumed with --ckpt_path ends
like the uninterrupted run: same weights, optimizer state, schedule and metrics."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from atfr_lightning.cli import run_cli
from atfr_lightning.data.video.samplers import EpochShuffleSampler
from atfr_lightning.lightning.resume import AtomicCheckpointIO, capture_rng_states, restore_rng_states

CONFIG = str(Path(__file__).resolve().parents[1] / "experiments" / "synthetic" / "x3d_sgs.yaml")
STEPS_PER_EPOCH = 4


def _args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "fit", "--config", CONFIG,
        f"--data.init_args.root={root / 'data'}", "--data.init_args.num_train=8", "--data.init_args.num_val=4",
        "--data.init_args.num_frames=8", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0",
        # Dropout draws from the global generator: the resumed run must restore it.
        "--model.net.init_args.dropout=0.3",
        "--model.sgs_start_epoch=1", "--trainer.max_epochs=2", "--trainer.limit_val_batches=1",
        "--trainer.deterministic=true", "--trainer.enable_progress_bar=false",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.init_args.save_dir={out}",
        f"--trainer.default_root_dir={out}",
        # A checkpoint every step (the README's "checkpoint every N steps"), plus last.ckpt.
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps=1", "--trainer.callbacks.save_top_k=-1",
        "--trainer.callbacks.save_last=true", f"--trainer.callbacks.dirpath={out / 'steps'}",
        "--trainer.callbacks.filename={step}",
        *extra,
    ]


def _final_state(cli) -> dict:
    trainer = cli.trainer
    return {
        "weights": {k: v.detach().clone() for k, v in cli.model.state_dict().items()},
        "optimizer": trainer.optimizers[0].state_dict(),
        "lr": trainer.lr_scheduler_configs[0].scheduler.get_last_lr(),
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
        "step": trainer.global_step,
    }


def _assert_same_run(resumed: dict, reference: dict, label: str) -> None:
    assert resumed["step"] == reference["step"] == 2 * STEPS_PER_EPOCH
    worst = max((resumed["weights"][k].double() - v.double()).abs().max().item() for k, v in reference["weights"].items())
    assert worst <= 1e-5, f"{label}: largest weight difference {worst}"
    for key, state in reference["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.allclose(resumed["optimizer"]["state"][key][name].double(), value.double(), atol=1e-5), name
    assert resumed["lr"] == pytest.approx(reference["lr"])
    assert resumed["metrics"].keys() == reference["metrics"].keys()
    for name, value in reference["metrics"].items():
        assert resumed["metrics"][name] == pytest.approx(value, abs=1e-5), f"{label}: {name}"


class _Kill(RuntimeError):
    pass


class _KillAtStep:
    """Raise at the start of training step ``step`` (as a pre-emption would, after a checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def __call__(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise _Kill(f"killed at step {self.step}")


@pytest.mark.slow
def test_resumed_runs_end_like_the_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    reference = _final_state(run_cli(_args(tmp_path, tmp_path / "ref")))
    # Mid-epoch in the backbone phase (epoch 0), mid-epoch with SGS (epoch 1), and at an epoch's end.
    for step in (3, 6, STEPS_PER_EPOCH):
        ckpt = tmp_path / "ref" / "steps" / f"step={step}.ckpt"
        resumed = run_cli(_args(tmp_path, tmp_path / f"resumed{step}", f"--ckpt_path={ckpt}"))
        _assert_same_run(_final_state(resumed), reference, f"resumed from step {step}")

    # Killed at step 5, then `--ckpt_path last` in the same folder: as if the job was pre-empted.
    from lightning.pytorch.callbacks import LambdaCallback

    killed = tmp_path / "killed"
    monkeypatch.setattr(
        "atfr_lightning.cli.sweep_history_callbacks", lambda: [LambdaCallback(on_train_batch_start=_KillAtStep(5))]
    )
    with pytest.raises(_Kill):
        run_cli(_args(tmp_path, killed))
    monkeypatch.undo()
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert torch.load(killed / "steps" / "last.ckpt", weights_only=False)["global_step"] == 5
    resumed = run_cli(_args(tmp_path, killed, "--ckpt_path=last"))
    _assert_same_run(_final_state(resumed), reference, "killed at step 5, resumed from last")


def test_sampler_resumes_mid_epoch_once():
    sampler = EpochShuffleSampler(range(10), seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.resume_at(epoch=2, position=4)
    sampler.set_epoch(0)  # Lightning sets the epoch again after the iterator exists: the resume point wins
    assert list(sampler) == full[4:]
    sampler.set_epoch(2)
    assert list(sampler) == full  # one time only
    with pytest.raises(ValueError, match="0..10"):
        sampler.resume_at(epoch=0, position=11)


def test_rng_states_round_trip():
    states = capture_rng_states()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_states(states)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_a_kill_while_saving_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def dies_half_way(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # the job is killed while writing

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"], "no temporary file left behind"
