"""The example configs (the shared piece + one piece per dataset) compose through the CLI and agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from atfr_lightning.cli import run_cli

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {
    "kinetics400": ("KineticsDataModule", 400),
    "kinetics600": ("KineticsDataModule", 600),
    "mini_kinetics": ("MiniKineticsDataModule", 200),
    "ssv2": ("SSv2DataModule", 174),
    "ucf101": ("UCF101DataModule", 101),
    "hmdb51": ("HMDB51DataModule", 51),
}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_config_parses_and_is_consistent(dataset: str, capsys: pytest.CaptureFixture[str]) -> None:
    common = REPO / "experiments" / "common" / "x3d_s_sgs.yaml"
    config = REPO / "experiments" / dataset / "x3d_s_sgs.yaml"
    with pytest.raises(SystemExit) as exited:
        run_cli(["fit", "--config", str(common), "--config", str(config), "--print_config"])
    assert exited.value.code == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    data_class, num_classes = EXPECTED[dataset]
    assert resolved["data"]["class_path"] == f"atfr_lightning.data.{data_class}"
    net = resolved["model"]["net"]["init_args"]
    data = resolved["data"]["init_args"]
    assert net["backbone"] == "x3d_s" and net["sgs"] is True
    # Stated once, under data; the CLI links them into the network (num_classes from the annotations).
    raw = yaml.safe_load(common.read_text())
    assert not {"num_classes", "num_frames", "crop_size"} & set(raw["model"]["net"]["init_args"])
    # The dataset's piece holds only what differs: no network, no callbacks; its own run folder.
    piece = yaml.safe_load(config.read_text())
    assert "net" not in piece.get("model", {}) and "callbacks" not in piece["trainer"]
    assert resolved["trainer"]["default_root_dir"] == f"runs/{dataset}_x3d_s_sgs"
    assert resolved["trainer"]["logger"]["init_args"]["name"] == f"{dataset}_x3d_s_sgs"
    assert data["num_frames"] >= 1 and data["crop_size"] >= 1
    assert f"({num_classes} classes)" in config.read_text().splitlines()[0]
    assert any(c["class_path"].endswith("MultiViewTestAccuracy") for c in resolved["trainer"]["callbacks"])
