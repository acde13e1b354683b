"""Loading local pretrained weights: zoo and plain formats, SGS models, head replacement."""

import pytest
import torch

from atfr_lightning.models import SGSNetwork, build_network, load_pretrained
from atfr_lightning.models.pretrained import classifier_keys, read_state_dict

SMALL = dict(num_frames=8, crop_size=32)


pytestmark = pytest.mark.usefixtures("one_thread")


def _kinetics(backbone="slow_r50", **kwargs):
    """A stand-in for a Kinetics-400 model-zoo network: the builder's network, no SGS."""
    torch.manual_seed(0)
    return build_network(backbone=backbone, num_classes=400, sgs=False, **{**SMALL, **kwargs}).eval()


def _clips():
    torch.manual_seed(1)
    x = torch.randn(3, 3, 8, 32, 32)
    x[0] = x[0, :, :1]
    return x


def _save(tmp_path, obj, name="ckpt.pyth"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_zoo_checkpoint_loads_into_an_sgs_model(tmp_path):
    source = _kinetics()
    # The zoo's files hold the state dict under "model_state" next to other entries.
    path = _save(tmp_path, {"model_state": source.state_dict(), "epoch": 196, "cfg": "SLOW_8x8_R50"})
    torch.manual_seed(5)
    net = SGSNetwork(backbone="slow_r50", num_classes=400, pretrained=str(path), **SMALL)
    report = net.pretrained_report
    assert report.source_format == "model_state" and report.loaded == len(source.state_dict())
    assert report.missing == report.new_sgs and report.new_sgs and all(k.startswith("sgs.") for k in report.new_sgs)
    assert not report.unexpected and not report.problems
    for key, value in source.state_dict().items():
        torch.testing.assert_close(net.state_dict()[key], value, msg=key)
    assert "new SGS parameters (not in the checkpoint)" in str(report)


def test_slowfast_zoo_checkpoint_loads_and_reproduces_the_backbone(tmp_path):
    source = _kinetics("slowfast_r50_4x16", num_frames=32)
    path = _save(tmp_path, {"model_state": source.state_dict()})
    plain = build_network(backbone="slowfast_r50_4x16", num_classes=400, sgs=False, pretrained=str(path),
                       num_frames=32, crop_size=32).eval()
    with_sgs = build_network(backbone="slowfast_r50_4x16", num_classes=400, pretrained=str(path),
                          num_frames=32, crop_size=32)
    # (batch norm fills a missing num_batches_tracked silently, so it is not reported)
    sgs_keys = {k for k in with_sgs.state_dict() if k.startswith("sgs.") and not k.endswith("num_batches_tracked")}
    assert set(with_sgs.pretrained_report.missing) == sgs_keys
    assert {k.split(".")[1] for k in with_sgs.pretrained_report.new_sgs} == {"slow", "fast"}
    x = torch.randn(2, 3, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), source(x))


@pytest.mark.parametrize("wrap, prefix", [(None, ""), ("state_dict", "net."), ("state_dict", "module.")])
def test_plain_and_lightning_state_dicts(tmp_path, wrap, prefix):
    state = {prefix + k: v for k, v in _kinetics().state_dict().items()}
    path = _save(tmp_path, state if wrap is None else {wrap: state, "global_step": 3})
    loaded, source_format = read_state_dict(path)
    assert source_format == (wrap or "plain")
    assert set(loaded) == set(_kinetics().state_dict())


def test_replace_head_for_a_new_number_of_classes(tmp_path):
    source = _kinetics()
    path = _save(tmp_path, {"model_state": source.state_dict()})
    with pytest.raises(ValueError, match="replace_head=True"):
        SGSNetwork(backbone="slow_r50", num_classes=101, pretrained=str(path), **SMALL)
    torch.manual_seed(7)
    fresh = SGSNetwork(backbone="slow_r50", num_classes=101, **SMALL)
    torch.manual_seed(7)
    net = SGSNetwork(backbone="slow_r50", num_classes=101, pretrained=str(path), replace_head=True, **SMALL)
    head = classifier_keys(net)
    assert head == ["blocks.5.proj.weight", "blocks.5.proj.bias"]
    assert net.pretrained_report.replaced_head == head and not net.pretrained_report.problems
    for key in head:  # the classifier is the fresh one, the rest is the checkpoint's
        torch.testing.assert_close(net.state_dict()[key], fresh.state_dict()[key])
    torch.testing.assert_close(net.state_dict()["blocks.4.res_blocks.2.branch2.conv_c.weight"],
                               source.state_dict()["blocks.4.res_blocks.2.branch2.conv_c.weight"])
    assert net.eval()(_clips()).shape == (3, 101)
    assert "classifier replaced" in str(net.pretrained_report)


def test_missing_and_unexpected_keys_are_reported(tmp_path):
    state = _kinetics().state_dict()
    state.pop("blocks.1.res_blocks.0.branch2.conv_a.weight")
    state["blocks.9.extra.weight"] = torch.zeros(1)
    path = _save(tmp_path, {"model_state": state})
    net = SGSNetwork(backbone="slow_r50", num_classes=400, **SMALL)
    with pytest.raises(ValueError, match="missing: blocks.1.res_blocks.0.branch2.conv_a.weight"):
        load_pretrained(net, path)
    report = load_pretrained(net, path, strict=False)
    assert report.problems == ["missing: blocks.1.res_blocks.0.branch2.conv_a.weight", "unexpected: blocks.9.extra.weight"]


class NotATensor:
    """An arbitrary object: unpickling it could run code, so weights_only refuses it."""


def test_only_tensors_are_unpickled(tmp_path):
    path = _save(tmp_path, {"model_state": _kinetics().state_dict(), "payload": NotATensor()})
    with pytest.raises(Exception, match="weights_only"):
        read_state_dict(path)


def test_bad_paths_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        read_state_dict(tmp_path / "absent.pyth")
    with pytest.raises(ValueError, match="expected a dict"):
        read_state_dict(_save(tmp_path, [torch.zeros(1)]))
    with pytest.raises(ValueError, match="needs a checkpoint"):
        SGSNetwork(backbone="slow_r50", num_classes=5, replace_head=True, **SMALL)
