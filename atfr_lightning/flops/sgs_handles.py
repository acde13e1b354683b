"""fvcore handles for the SGS layer's own element-wise work.

fvcore counts the SGS layer's two linear layers and its weighted sum (a bmm), but skips the
pooling, distances, scaling and tent kernel (mean, sub, norm, abs, clamp, ...). These handles
count each of them as one FLOP per element of their largest operand, so that the layer's whole
cost appears in every figure. They are applied only when counting the SGS layer itself: applied
to a whole backbone they would also count element-wise ops the published figures leave out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Element-wise and reduction ops the SGS layer uses (aten names as traced by torch.jit).
_SGS_ELEMENTWISE_OPS = (
    "aten::mean",
    "aten::sub",
    "aten::rsub",
    "aten::add",
    "aten::mul",
    "aten::div",
    "aten::abs",
    "aten::pow",
    "aten::sqrt",
    "aten::clamp_min",
    "aten::amax",
    "aten::sum",
    "aten::linalg_vector_norm",
    "aten::where",
    "aten::lt",
    "aten::ne",
)


def _numel(value: Any) -> int:
    try:
        shape = value.type().sizes()
    except (AttributeError, RuntimeError):
        return 0
    if shape is None:
        return 0
    count = 1
    for size in shape:
        count *= int(size)
    return count


def _largest_operand(inputs: list, outputs: list) -> int:
    return max([_numel(v) for v in list(inputs) + list(outputs)] + [0])


def sgs_op_handles() -> dict[str, Callable]:
    """Handles for :meth:`fvcore.nn.FlopCountAnalysis.set_op_handle`, one FLOP per element."""
    return {op: _largest_operand for op in _SGS_ELEMENTWISE_OPS}


def count_sgs_layer_gflops(layer: torch.nn.Module, features: torch.Tensor, *, num_active_bins: int) -> float:
    """GFLOPs (fvcore, multiply-adds) of one SGS layer on ``features`` (1, C, T, H, W) keeping B' bins.

    The kernel computation is traced on the real features; the weighted sum is counted at
    exactly ``num_active_bins`` output slices.
    """
    from fvcore.nn import FlopCountAnalysis

    from atfr_lightning.sgs import functional as F_sgs

    class _Kernel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = layer

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layer.kernel_weights(x)

    class _Sample(torch.nn.Module):
        def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return F_sgs.sample(x, w)

    total = 0.0
    weights = torch.ones(features.shape[0], num_active_bins, features.shape[2], dtype=features.dtype)
    for module, inputs in ((_Kernel(), (features,)), (_Sample(), (features, weights))):
        analysis = FlopCountAnalysis(module, inputs)
        for op, handle in sgs_op_handles().items():
            analysis.set_op_handle(op, handle)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        total += analysis.total()
    return total / 1e9
