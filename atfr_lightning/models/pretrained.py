"""Load pretrained weights from a local file (nothing is downloaded).

Accepted formats, all read with ``torch.load(..., weights_only=True)`` (tensors and plain
containers only, no code runs):

* the PyTorchVideo / PySlowFast model-zoo checkpoint: ``{"model_state": state_dict, ...}``;
* a checkpoint with ``"state_dict"`` (Lightning); a common ``"net."`` or ``"module."`` key
  prefix (our LightningModule, DistributedDataParallel) is removed;
* a plain state dict.

The zoo's keys are the builder's ``blocks.<i>.*``, which every network here keeps, so a zoo
checkpoint loads into a network with SGS unchanged: only ``sgs.*`` is missing from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

_PREFIXES = ("net.", "module.")


@dataclass
class LoadReport:
    """What loading a checkpoint did.

    Attributes:
        path: the file read.
        source_format: ``"model_state"`` (model zoo), ``"state_dict"`` or ``"plain"``.
        loaded: number of tensors copied into the network.
        missing: network keys the checkpoint lacks, SGS's and a replaced head's included.
        unexpected: checkpoint keys the network does not have.
        new_sgs: the missing keys that belong to SGS layers (expected: SGS is new).
        replaced_head: the classifier keys kept from the network instead of the checkpoint.
    """

    path: str
    source_format: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    new_sgs: list[str] = field(default_factory=list)
    replaced_head: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Missing keys that are neither SGS's nor a replaced head's, and every unexpected key."""
        expected = set(self.new_sgs) | set(self.replaced_head)
        return [f"missing: {k}" for k in self.missing if k not in expected] + [
            f"unexpected: {k}" for k in self.unexpected
        ]

    def __str__(self) -> str:
        lines = [
            f"loaded {self.loaded} tensors from {self.path} ({self.source_format} format)",
            f"  new SGS parameters (not in the checkpoint): {len(self.new_sgs)}",
        ]
        if self.replaced_head:
            lines.append(f"  classifier replaced (fresh, not loaded): {', '.join(self.replaced_head)}")
        lines += [f"  {problem}" for problem in self.problems] or ["  no other missing or unexpected keys"]
        return "\n".join(lines)


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """``(state_dict, source_format)`` of a local checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint {str(path)!r} does not exist (nothing is downloaded)")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"{path}: expected a dict (a state dict, or a checkpoint with 'model_state' or 'state_dict'), "
            f"got {type(checkpoint).__name__}"
        )
    for key in ("model_state", "state_dict"):
        if isinstance(checkpoint.get(key), dict):
            state, source_format = checkpoint[key], key
            break
    else:
        state, source_format = checkpoint, "plain"
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path}: no tensors found in the {source_format} dict")
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return tensors, source_format


def classifier_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the network's classifier: its last ``nn.Linear`` outside SGS."""
    name = None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear) and not module_name.startswith("sgs"):
            name = module_name
    if name is None:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to replace")
    return [k for k in model.state_dict() if k.rsplit(".", 1)[0] == name]


def load_pretrained(
    model: nn.Module, path: str | Path, *, replace_head: bool = False, strict: bool = True
) -> LoadReport:
    """Copy a local checkpoint's weights into ``model`` and report what matched.

    Args:
        model: the network (its keys: ``blocks.<i>.*`` and, with SGS, ``sgs.*``).
        path: checkpoint file (see the module docstring for the formats).
        replace_head: keep the model's own classifier (e.g. 101 UCF101 classes after a 400-class
            Kinetics checkpoint). Without it a classifier of another size is an error.
        strict: raise if any key other than SGS's (and a replaced head's) is missing, or any
            checkpoint key is unexpected, or a shape differs.

    Returns:
        The :class:`LoadReport` (also logged).
    """
    state, source_format = read_state_dict(path)
    own = model.state_dict()
    head = classifier_keys(model)
    if replace_head:
        state = {k: v for k, v in state.items() if k not in head}
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs network {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if mismatched:
        hint = (
            " (the classifier differs: pass replace_head=True to fine-tune to a new number of classes)"
            if any(m.split(":")[0] in head for m in mismatched)
            else ""
        )
        raise ValueError(f"{path}: shapes differ for {len(mismatched)} keys{hint}: " + "; ".join(mismatched))
    result = model.load_state_dict(state, strict=False)
    report = LoadReport(
        path=str(path),
        source_format=source_format,
        loaded=len([k for k in state if k in own]),
        missing=list(result.missing_keys),
        unexpected=list(result.unexpected_keys),
        new_sgs=[k for k in result.missing_keys if k.startswith("sgs.")],
        replaced_head=head if replace_head else [],
    )
    if report.problems and strict:
        raise ValueError(f"checkpoint does not match the network (strict=True):\n{report}")
    logger.log(logging.WARNING if report.problems else logging.INFO, "%s", report)
    return report
