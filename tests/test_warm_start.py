"""The warm start in one run (``sgs_start_epoch``): SGS bypassed, then inserted and fine-tuned."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from random_clips import RandomClips
from torch.utils.data import DataLoader

from atfr_lightning.lightning.module import VideoClassifier
from atfr_lightning.models import SGSNetwork, load_pretrained

SMALL = {
    "backbone": "x3d_s",
    "num_classes": 3,
    "num_frames": 8,
    "crop_size": 32,
    "backbone_kwargs": {"width_factor": 1.0, "depth_factor": 1.0},
    "dropout": 0.0,
}


class RecordPhase(L.Callback):
    """Which phase each training and validation batch ran in, and whether bins were produced."""

    def __init__(self) -> None:
        self.train: list[tuple[int, bool, bool]] = []
        self.val: list[tuple[int, bool]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train.append((trainer.current_epoch, pl_module.net.sgs_enabled, bool(pl_module.active_bins())))

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.val.append((trainer.current_epoch, bool(pl_module.active_bins())))


def _trainer(tmp_path, callbacks, max_epochs: int) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", max_epochs=max_epochs, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=callbacks,
    )


def test_bypassed_sgs_network_computes_the_backbone() -> None:
    torch.manual_seed(0)
    adaptive = SGSNetwork(**SMALL, sgs=True).eval()
    plain = SGSNetwork(**SMALL, sgs=False).eval()
    state = {k: v for k, v in adaptive.state_dict().items() if not k.startswith("sgs.")}
    plain.load_state_dict(state)
    clip = torch.randn(4, 3, 8, 32, 32)
    adaptive(clip)
    assert adaptive.sgs.last_active_bins is not None
    adaptive.sgs_enabled = False
    with torch.no_grad():
        torch.testing.assert_close(adaptive(clip), plain(clip))
    # The last enabled pass's bins are cleared, so no logger reads stale counts.
    assert adaptive.sgs.last_active_bins is None


def test_sgs_starts_at_the_given_epoch_and_stays_on_after_fit(tmp_path) -> None:
    torch.manual_seed(0)
    model = VideoClassifier(net=SGSNetwork(**SMALL, sgs=True), optimizer="adamw", lr=1e-3, sgs_start_epoch=2)
    record = RecordPhase()
    loader = DataLoader(RandomClips(8), batch_size=4)
    _trainer(tmp_path, [record], max_epochs=3).fit(model, loader, loader)
    assert [(epoch, enabled) for epoch, enabled, _ in record.train] == [
        (0, False), (0, False), (1, False), (1, False), (2, True), (2, True)
    ]
    # Bins exist exactly when SGS ran, in training and in validation.
    assert all(enabled == has_bins for _, enabled, has_bins in record.train)
    # Validation (the sanity check included) runs the backbone until SGS starts.
    assert {has_bins for epoch, has_bins in record.val if epoch < 2} == {False}
    assert {has_bins for epoch, has_bins in record.val if epoch == 2} == {True}
    assert model.net.sgs_enabled, "after fit the network evaluates with SGS"
    assert "train/mean_bins/sgs" in model.trainer.callback_metrics


def test_a_start_epoch_past_the_run_is_refused(tmp_path) -> None:
    model = VideoClassifier(net=SGSNetwork(**SMALL, sgs=True), optimizer="adamw", lr=1e-3, sgs_start_epoch=2)
    loader = DataLoader(RandomClips(4), batch_size=4)
    with pytest.raises(ValueError, match="sgs_start_epoch=2 is not below trainer.max_epochs=2"):
        _trainer(tmp_path, [], max_epochs=2).fit(model, loader)
    with pytest.raises(ValueError, match="sgs_start_epoch must be an integer >= 0, got -1"):
        VideoClassifier(net=SGSNetwork(**SMALL, sgs=True), sgs_start_epoch=-1)


def test_two_stage_path_loads_a_lightning_backbone_checkpoint(tmp_path) -> None:
    """Stage 1 trains the backbone (sgs=False); stage 2 builds SGS on its Lightning checkpoint."""
    torch.manual_seed(0)
    backbone = VideoClassifier(net=SGSNetwork(**SMALL, sgs=False), optimizer="adamw", lr=1e-3)
    trainer = _trainer(tmp_path, [], max_epochs=1)
    trainer.fit(backbone, DataLoader(RandomClips(4), batch_size=4))
    checkpoint = tmp_path / "backbone.ckpt"
    trainer.save_checkpoint(checkpoint)
    adaptive = SGSNetwork(**SMALL, sgs=True, pretrained=str(checkpoint))
    report = adaptive.pretrained_report
    assert report.problems == [] and report.new_sgs and all(k.startswith("sgs.") for k in report.missing)
    for key, value in backbone.net.state_dict().items():
        torch.testing.assert_close(adaptive.state_dict()[key], value)
    # Bypassed, the loaded SGS network is the trained backbone exactly.
    adaptive.eval().sgs_enabled = False
    backbone.net.eval()
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(adaptive(clip), backbone.net(clip))
    assert load_pretrained  # the same loader the CLI's `pretrained=` uses
