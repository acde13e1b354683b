"""fvcore FLOP counts of a network and of an SGS network at every number of active bins.

Convention: fvcore counts one multiply-add as one FLOP, so every "GFLOPs" here is GMACs, the
convention of the PyTorchVideo model zoo, the X3D paper and the SGS paper. Convolutions,
linear layers and matrix products are counted; batch norm is left out by default (the X3D
paper's figures and the zoo's Slow 8x8 and SlowFast R50 8x8 are conv + linear; the zoo's other
figures add batch norm as fvcore counts it in training mode, see docs/backbones.md);
element-wise ops, pooling and activations count 0 (fvcore lists them as unsupported, and so
do we).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

from atfr_lightning.flops.sgs_handles import count_sgs_layer_gflops
from atfr_lightning.models.adaptive import AdaptiveTemporalNetwork
from atfr_lightning.models.slowfast import SlowFastSGSNetwork

_BATCH_NORM_OPS = ("aten::batch_norm", "aten::native_batch_norm", "aten::_native_batch_norm_legit")


class _Call(nn.Module):
    """Wrap a callable so fvcore can trace it as a module returning tensors only."""

    def __init__(self, fn, *modules: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        self.held = nn.ModuleList(modules)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs)


BATCH_NORM_CONVENTIONS = (False, True, "eval", "train")


def _batch_norm_as_in_training(inputs: list, outputs: list) -> int:
    # fvcore's count for a model traced in training mode (norm_flop_counter): 5 per element with
    # an affine transform, 4 without. The PyTorchVideo model zoo's figures for C2D, I3D,
    # R(2+1)D, CSN and SlowFast 4x16 / R101 include batch norm counted this way.
    from fvcore.nn.jit_handles import get_shape

    numel = 1
    for size in get_shape(inputs[0]):
        numel *= size
    return numel * (5 if get_shape(inputs[1]) is not None else 4)


def count_gflops(
    module: nn.Module, inputs: tuple[torch.Tensor, ...], *, include_batch_norm: bool | str = False
) -> tuple[float, Counter]:
    """GFLOPs (fvcore, multiply-adds) of ``module(*inputs)`` and the ops fvcore skipped.

    Args:
        include_batch_norm: ``False``: batch norm counts 0 (the X3D paper's convention);
            ``True`` or ``"eval"``: fvcore's count for evaluation (2 per element with affine);
            ``"train"``: fvcore's count for a model in training mode (5 per element with affine).
            See docs/backbones.md for which published figure uses which.

    Returns:
        ``(gflops, skipped)``: skipped maps each op fvcore could not count to its number of calls.
    """
    if include_batch_norm not in BATCH_NORM_CONVENTIONS:
        raise ValueError(f"include_batch_norm must be one of {BATCH_NORM_CONVENTIONS}, got {include_batch_norm!r}")
    # Imported here: fvcore.nn pulls in torch.jit machinery that the training path never needs.
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, inputs)
    if include_batch_norm is False:
        # set_op_handle(op, None) does not drop batch norm in fvcore 0.1.5: count it as 0.
        for op in _BATCH_NORM_OPS:
            analysis.set_op_handle(op, lambda inputs, outputs: 0)
    elif include_batch_norm == "train":
        for op in _BATCH_NORM_OPS:
            analysis.set_op_handle(op, _batch_norm_as_in_training)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    total = analysis.total() / 1e9
    return total, Counter(analysis.unsupported_ops())


@dataclass
class CostTable:
    """Per-clip cost of an SGS network at every number of active bins (batch 1).

    Attributes:
        backbone_gflops: the same network without SGS, at the full temporal length.
        sgs_gflops: the SGS layer's own cost at each B' (embedding MLP, weighted sum and its
            element-wise work, see :mod:`atfr_lightning.flops.sgs_handles`).
        per_bins: total cost of a clip that keeps B' bins, B' = 1..B (SGS layer included).
        skipped_ops: ops fvcore counted as 0, with their number of calls.
    """

    backbone_gflops: float
    per_bins: dict[int, float]
    sgs_gflops: dict[int, float] = field(default_factory=dict)
    skipped_ops: Counter = field(default_factory=Counter)

    def clip_gflops(self, active_bins: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """GFLOPs of each clip (N,) from its active bins (N,) (or ``{layer name: bins}``, one layer)."""
        if isinstance(active_bins, dict):
            if len(active_bins) != 1:
                raise ValueError(
                    f"this cost table is for one SGS layer, got active bins of {sorted(active_bins)}"
                )
            (active_bins,) = active_bins.values()
        lookup = torch.zeros(max(self.per_bins) + 1, dtype=torch.float64)
        for bins, gflops in self.per_bins.items():
            lookup[bins] = gflops
        return lookup[active_bins.cpu().long()]


@dataclass
class PathwayCostTable:
    """Per-clip cost of a two-pathway SGS network (SlowFast) at every (B'_slow, B'_fast) (batch 1).

    Every counted op after SGS sees one pathway's length only (the lateral connection's
    convolution the Fast one, the Slow stage it feeds the Slow one; the resampling between them
    is a pool, counted 0), so the cost is exactly additive:
    ``cost = base_gflops + marginal["sgs_slow"][B'_slow] + marginal["sgs_fast"][B'_fast]``.

    Attributes:
        backbone_gflops: the same network without SGS, at the full temporal lengths.
        base_gflops: everything before SGS plus everything after it at full lengths.
        marginal: per SGS layer, B' -> that layer's own cost at B' plus the change of the
            layers after SGS when only this pathway keeps B' bins (0 or negative).
        sgs_gflops: per SGS layer, its own cost at each B'.
        skipped_ops: ops fvcore counted as 0, with their number of calls.
    """

    backbone_gflops: float
    base_gflops: float
    marginal: dict[str, dict[int, float]]
    sgs_gflops: dict[str, dict[int, float]] = field(default_factory=dict)
    skipped_ops: Counter = field(default_factory=Counter)

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.marginal)

    def cost(self, bins: dict[str, int]) -> float:
        """GFLOPs of one clip keeping ``bins[layer]`` bins in each SGS layer."""
        self._check_layers(bins)
        return self.base_gflops + sum(self.marginal[name][int(bins[name])] for name in self.layers)

    @property
    def per_bins(self) -> dict[tuple[int, ...], float]:
        """Cost of every combination, keyed by the bins of each layer in ``layers`` order."""
        grids = [sorted(self.marginal[name]) for name in self.layers]
        table: dict[tuple[int, ...], float] = {}
        for combo in itertools.product(*grids):
            table[combo] = self.cost(dict(zip(self.layers, combo)))
        return table

    def clip_gflops(self, active_bins: dict[str, torch.Tensor]) -> torch.Tensor:
        """GFLOPs of each clip (N,) from ``{layer name: active bins (N,)}`` of every SGS layer."""
        if not isinstance(active_bins, dict):
            raise ValueError(
                f"this network has {len(self.layers)} SGS layers {self.layers}: pass a dict of each "
                "layer's active bins (e.g. LightningModule.active_bins()), not one tensor"
            )
        self._check_layers(active_bins)
        total = torch.full(active_bins[self.layers[0]].shape, self.base_gflops, dtype=torch.float64)
        for name in self.layers:
            lookup = torch.zeros(max(self.marginal[name]) + 1, dtype=torch.float64)
            for bins, gflops in self.marginal[name].items():
                lookup[bins] = gflops
            total += lookup[active_bins[name].cpu().long()]
        return total

    def _check_layers(self, bins: dict) -> None:
        if set(bins) != set(self.layers):
            raise ValueError(f"expected active bins of the SGS layers {self.layers}, got {tuple(bins)}")


class _PartCounter:
    """Counts parts of a network (a callable and the modules it uses), adding up skipped ops."""

    def __init__(self, *, include_batch_norm: bool | str) -> None:
        self.include_batch_norm = include_batch_norm
        self.skipped: Counter = Counter()

    def __call__(self, fn, *inputs, modules=()) -> float:
        gflops, ops = count_gflops(_Call(fn, *modules), inputs, include_batch_norm=self.include_batch_norm)
        self.skipped.update(ops)
        return gflops


@contextlib.contextmanager
def _eval_copy(net: nn.Module):
    # Trace a CPU copy in eval mode: tracing must not update the real model's BN statistics.
    yield copy.deepcopy(net).cpu().eval()


@torch.no_grad()
def sgs_cost_table(
    net: AdaptiveTemporalNetwork, *, num_frames: int, crop_size: int, include_batch_norm: bool | str = False
) -> CostTable | PathwayCostTable:
    """Count the network's cost for one clip at every possible number of active bins.

    Returns a :class:`CostTable` for one SGS layer (or none), a :class:`PathwayCostTable` for
    a two-pathway network (SlowFast).
    """
    if isinstance(net, SlowFastSGSNetwork):
        return _pathway_cost_table(net, num_frames=num_frames, crop_size=crop_size, include_batch_norm=include_batch_norm)
    with _eval_copy(net) as model:
        clip = torch.zeros(1, 3, num_frames, crop_size, crop_size)
        count = _PartCounter(include_batch_norm=include_batch_norm)
        skipped = count.skipped

        pre = count(model.pre, clip, modules=(model.blocks,))
        features = model.pre(clip)
        steps = features.shape[2]
        post_full = count(lambda f: model.post(model.activation(f)), features, modules=(model.blocks,))
        if model.sgs is None:
            return CostTable(backbone_gflops=pre + post_full, per_bins={steps: pre + post_full}, skipped_ops=skipped)
        num_bins = model.sgs.num_bins or steps
        per_bins, sgs_cost = {}, {}
        for bins in range(1, num_bins + 1):
            # The layer's whole cost: MLP, weighted sum, and (through handles) its element-wise work.
            sgs_cost[bins] = count_sgs_layer_gflops(model.sgs, features, num_active_bins=bins)
            post = count(lambda f: model.post(model.activation(f)), features[:, :, : min(bins, steps)].contiguous(),
                         modules=(model.blocks,))
            per_bins[bins] = pre + sgs_cost[bins] + post
        return CostTable(backbone_gflops=pre + post_full, per_bins=per_bins, sgs_gflops=sgs_cost, skipped_ops=skipped)


def _pathway_cost_table(
    net: SlowFastSGSNetwork, *, num_frames: int, crop_size: int, include_batch_norm: bool | str
) -> PathwayCostTable:
    with _eval_copy(net) as model:
        clip = torch.zeros(1, 3, num_frames, crop_size, crop_size)
        count = _PartCounter(include_batch_norm=include_batch_norm)
        skipped = count.skipped

        def post(*paths: torch.Tensor) -> torch.Tensor:
            return model.post([act(f) for act, f in zip(model.activations, paths)])

        pre = count(lambda x: model.pre(x), clip, modules=(model.blocks,))
        features = model.pre(clip)
        full = [f.shape[2] for f in features]
        post_full = count(post, *features, modules=(model.blocks, model.activations))
        backbone = pre + post_full
        if model.sgs is None:
            return PathwayCostTable(backbone_gflops=backbone, base_gflops=backbone, marginal={}, skipped_ops=skipped)
        marginal: dict[str, dict[int, float]] = {}
        sgs_cost: dict[str, dict[int, float]] = {}
        for p, (name, layer) in enumerate(model.sgs_layers().items()):
            f = features[p]
            steps = f.shape[2]
            marginal[name], sgs_cost[name] = {}, {}
            for bins in range(1, min(layer.num_bins or steps, steps) + 1):
                sgs_cost[name][bins] = count_sgs_layer_gflops(layer, f, num_active_bins=bins)
                cut = [g[:, :, :bins].contiguous() if q == p else g for q, g in enumerate(features)]
                post_here = post_full if bins == full[p] else count(post, *cut, modules=(model.blocks, model.activations))
                marginal[name][bins] = sgs_cost[name][bins] + post_here - post_full
        return PathwayCostTable(
            backbone_gflops=backbone, base_gflops=backbone, marginal=marginal, sgs_gflops=sgs_cost, skipped_ops=skipped
        )


def cached_cost_table(net: AdaptiveTemporalNetwork, *, num_frames: int, crop_size: int):
    """:func:`sgs_cost_table`, counted once per network and input size.

    The table is kept on the network object itself (it depends on the architecture and input
    size, not on the weights), so every callback of a run shares one count, and a new network
    can never pick up another network's table.
    """
    cache = net.__dict__.setdefault("_atfr_cost_tables", {})
    key = (num_frames, crop_size)
    if key not in cache:
        cache[key] = sgs_cost_table(net, num_frames=num_frames, crop_size=crop_size)
    return cache[key]
