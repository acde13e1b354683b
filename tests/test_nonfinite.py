"""NonFiniteGuard stops at the first NaN loss or gradient with the step and video ids; bf16 on CPU trains."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from random_clips import RandomClips
from torch.utils.data import DataLoader

from atfr_lightning.callbacks import NonFiniteGuard, NonFiniteLossError
from atfr_lightning.lightning.module import VideoClassifier
from atfr_lightning.models import SGSNetwork

SMALL = dict(backbone="x3d_s", num_classes=3, num_frames=8, crop_size=32, num_bins=4, dropout=0.0,
             backbone_kwargs={"width_factor": 1.0, "depth_factor": 1.0})


class Poison(L.Callback):
    """At global step ``step``, make the weights (``"loss"``) or one gradient (``"grad"``) non-finite."""

    def __init__(self, *, step: int, kind: str) -> None:
        self.step, self.kind = step, kind

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step != self.step:
            return
        weight = pl_module.net.blocks[-1].proj.weight
        if self.kind == "loss":
            with torch.no_grad():
                weight[0, 0] = math.nan
        else:
            handle = weight.register_hook(lambda grad: grad * math.nan)
            self.remove = handle.remove


def _fit(tmp_path, *callbacks, precision: str = "32-true", max_steps: int = 4) -> tuple[VideoClassifier, list]:
    torch.manual_seed(0)
    model = VideoClassifier(net=SGSNetwork(**SMALL), optimizer="adamw", lr=1e-3)
    losses: list[float] = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            losses.append(float(outputs["loss"]))

    trainer = L.Trainer(
        accelerator="cpu", max_steps=max_steps, precision=precision, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path,
        callbacks=[*callbacks, Record()], limit_val_batches=0,
    )
    trainer.fit(model, DataLoader(RandomClips(8, first_id=100), batch_size=2, shuffle=False))
    return model, losses


def test_a_nan_loss_stops_the_run_naming_step_and_videos(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss nan at global step 2 \(epoch 0, batch 2\);"
                       r" the batch's video_index values: \[104, 105\]"):
        _fit(tmp_path, NonFiniteGuard(), Poison(step=2, kind="loss"))


def test_a_nan_gradient_stops_before_the_optimizer_step(tmp_path):
    guard = NonFiniteGuard()
    holder: dict = {}

    class Keep(L.Callback):
        def on_exception(self, trainer, pl_module, exception) -> None:
            holder["model"] = pl_module

    with pytest.raises(NonFiniteLossError, match=r"non-finite gradient in 1 parameter\(s\) \(first: net.blocks.5.proj.weight\)"
                       r" at global step 1 .*\[102, 103\]; training stopped before the optimizer step"):
        _fit(tmp_path, guard, Poison(step=1, kind="grad"), Keep())
    assert all(torch.isfinite(p).all() for p in holder["model"].parameters()), "the bad step was not applied"


def test_without_the_guard_training_goes_on_with_nan(tmp_path):
    """What the guard prevents: the run continues and its weights are NaN."""
    model, losses = _fit(tmp_path, Poison(step=2, kind="loss"))
    assert len(losses) == 4 and math.isnan(losses[-1])


def test_bf16_mixed_on_cpu_trains_with_sgs(tmp_path):
    model, losses = _fit(tmp_path, NonFiniteGuard(), precision="bf16-mixed", max_steps=3)
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    assert model.net.sgs.last_active_bins is not None  # SGS ran (the guard saw every step)
