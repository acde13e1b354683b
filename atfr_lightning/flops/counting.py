"""fvcore FLOP counts of a network and of an SGS network at every number of active bins.

Convention: fvcore counts one multiply-add as one FLOP, so every "GFLOPs" here is GMACs, the
convention of the PyTorchVideo model zoo, the X3D paper and the SGS paper. Convolutions,
linear layers and matrix products are counted; batch norm is left out by default (the
published X3D and model-zoo figures are conv + linear); element-wise ops, pooling and
activations count 0 (fvcore lists them as unsupported, and so do we).
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.sgs import functional as F_sgs

_BATCH_NORM_OPS = ("aten::batch_norm", "aten::native_batch_norm", "aten::_native_batch_norm_legit")


class _Call(nn.Module):
    """Wrap a callable so fvcore can trace it as a module returning tensors only."""

    def __init__(self, fn, *modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.held = nn.ModuleList(modules)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs)


def count_gflops(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], *, include_batch_norm: bool = False
) -> tuple[float, Counter]:
    """GFLOPs (fvcore, multiply-adds) of ``module(*inputs)`` and the ops fvcore skipped.

    Returns:
        ``(gflops, skipped)``: skipped maps each op fvcore could not count to its number of calls.
    """
    # Imported here: fvcore.nn pulls in torch.jit machinery that the training path never needs.
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, inputs)
    if not include_batch_norm:
        # set_op_handle(op, None) does not drop batch norm in fvcore 0.1.5: count it as 0.
        for op in _BATCH_NORM_OPS:
            analysis.set_op_handle(op, lambda inputs, outputs: 0)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    total = analysis.total() / 1e9
    return total, Counter(analysis.unsupported_ops())


@dataclass
class CostTable:
    """Per-clip cost of an SGS network at every number of active bins (batch 1).

    Attributes:
        backbone_gflops: the same network without SGS, at the full temporal length.
        sgs_gflops: the SGS layer's own cost at each B' (embedding MLP + weighted sum).
        per_bins: total cost of a clip that keeps B' bins, B' = 1..B (SGS layer included).
        skipped_ops: ops fvcore counted as 0, with their number of calls.
    """

    backbone_gflops: float
    per_bins: dict[int, float]
    sgs_gflops: dict[int, float] = field(default_factory=dict)
    skipped_ops: Counter = field(default_factory=Counter)

    def clip_gflops(self, active_bins: torch.Tensor) -> torch.Tensor:
        """GFLOPs of each clip (N,) from its active bins (N,)."""
        lookup = torch.zeros(max(self.per_bins) + 1, dtype=torch.float64)
        for bins, gflops in self.per_bins.items():
            lookup[bins] = gflops
        return lookup[active_bins.cpu().long()]


@contextlib.contextmanager
def _eval_copy(net: nn.Module):
    # Trace a CPU copy in eval mode: tracing must not update the real model's BN statistics.
    yield copy.deepcopy(net).cpu().eval()


@torch.no_grad()
def sgs_cost_table(
    net: AdaptiveTemporalNetwork, *, num_frames: int, crop_size: int, include_batch_norm: bool = False
) -> CostTable:
    """Count the network's cost for one clip at every possible number of active bins."""
    with _eval_copy(net) as model:
        clip = torch.zeros(1, 3, num_frames, crop_size, crop_size)
        skipped: Counter = Counter()

        def count(fn, *inputs, modules=()):
            gflops, ops = count_gflops(_Call(fn, *modules), inputs, include_batch_norm=include_batch_norm)
            skipped.update(ops)
            return gflops

        pre = count(model.pre, clip, modules=(model.blocks,))
        features = model.pre(clip)
        steps = features.shape[2]
        post_full = count(lambda f: model.post(model.activation(f)), features, modules=(model.blocks,))
        if model.sgs is None:
            return CostTable(backbone_gflops=pre + post_full, per_bins={steps: pre + post_full}, skipped_ops=skipped)
        embed = count(lambda f: model.sgs.norm(model.sgs.embed(f.mean(dim=(3, 4)).transpose(1, 2)).transpose(1, 2)),
                      features, modules=(model.sgs,))
        num_bins = model.sgs.num_bins or steps
        per_bins, sgs_cost = {}, {}
        for bins in range(1, num_bins + 1):
            weights = torch.ones(1, bins, steps)
            sgs_cost[bins] = embed + count(F_sgs.sample, features, weights)
            post = count(lambda f: model.post(model.activation(f)), features[:, :, : min(bins, steps)].contiguous(),
                         modules=(model.blocks,))
            per_bins[bins] = pre + sgs_cost[bins] + post
        return CostTable(backbone_gflops=pre + post_full, per_bins=per_bins, sgs_gflops=sgs_cost, skipped_ops=skipped)
