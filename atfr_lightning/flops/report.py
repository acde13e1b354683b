"""Parameters and GFLOPs of registered backbones, with and without SGS, next to published figures.

What ``python -m atfr_lightning.flops`` prints. Every GFLOPs figure is fvcore's count for one
clip (batch 1): one multiply-add = one FLOP (GMACs), convolutions + linear layers + matrix
products, batch norm excluded unless asked for; element-wise ops, activations and pools count 0
(listed as skipped). That is the convention the published figures match (see docs/backbones.md).
"""

from __future__ import annotations

from typing import Any

import torch

from atfr_lightning.flops.counting import CostTable, count_gflops, sgs_cost_table
from atfr_lightning.flops.published import PUBLISHED
from atfr_lightning.models import build_network, get_backbone_spec

UNITS = "GFLOPs = fvcore multiply-adds (GMACs) for one clip, batch 1"
SOURCES = {"zoo": "PyTorchVideo model zoo (K400)", "x3d_paper": "X3D paper, Table 3"}
BATCH_NORM = {"none": False, "eval": "eval", "train": "train"}
BATCH_NORM_TEXT = {
    "none": "batch norm excluded",
    "eval": "batch norm counted as fvcore does in evaluation (2 per element)",
    "train": "batch norm counted as fvcore does in training mode (5 per element)",
}


def _params_m(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def default_input(backbone: str) -> tuple[int, int]:
    """(num_frames, crop_size) the published figure refers to, else the backbone's standard input."""
    if backbone in PUBLISHED:
        return PUBLISHED[backbone].num_frames, PUBLISHED[backbone].crop_size
    spec = get_backbone_spec(backbone)
    return spec.num_frames, spec.crop_size


def measure(
    backbone: str,
    *,
    num_frames: int | None = None,
    crop_size: int | None = None,
    sgs: bool = False,
    insert_after: str = "res2",
    batch_norm: str = "none",
    num_classes: int = 400,
) -> list[dict[str, Any]]:
    """Rows for one backbone: the backbone without SGS, then (with ``sgs``) one row per B'.

    Row keys: ``backbone, num_frames, crop_size, sgs, params`` (millions), ``gflops``; the
    backbone row adds ``published_gflops, published_params, published_source, diff_pct``
    (``None`` when the input differs from the published one) and ``skipped_ops``; SGS rows add
    ``insert_after``, ``active_bins`` (an int, or ``{layer: bins}`` for two pathways) and
    ``ratio`` (GFLOPs / backbone GFLOPs). ``skipped_ops`` names the ops fvcore counted as 0.
    ``batch_norm``: ``"none"``, ``"eval"`` or ``"train"`` (see :func:`count_gflops`);
    ``published_batch_norm`` is the one that reproduces the published figure.
    """
    if batch_norm not in BATCH_NORM:
        raise ValueError(f"batch_norm must be one of {tuple(BATCH_NORM)}, got {batch_norm!r}")
    include_batch_norm = BATCH_NORM[batch_norm]
    default_frames, default_crop = default_input(backbone)
    num_frames, crop_size = num_frames or default_frames, crop_size or default_crop
    torch.manual_seed(0)
    net = build_network(
        backbone=backbone, num_classes=num_classes, num_frames=num_frames, crop_size=crop_size,
        sgs=sgs, insert_after=insert_after,
    ).eval()
    sgs_params = sum(_params_m(layer) for layer in net.sgs_layers().values())
    if sgs:
        table = sgs_cost_table(net, num_frames=num_frames, crop_size=crop_size, include_batch_norm=include_batch_norm)
        backbone_gflops, skipped = table.backbone_gflops, table.skipped_ops
    else:
        clip = torch.zeros(1, 3, num_frames, crop_size, crop_size)
        with torch.no_grad():
            backbone_gflops, skipped = count_gflops(net, (clip,), include_batch_norm=include_batch_norm)
    common = {"backbone": backbone, "num_frames": num_frames, "crop_size": crop_size}
    published = PUBLISHED.get(backbone)
    matches = published is not None and (published.num_frames, published.crop_size) == (num_frames, crop_size)
    rows = [{
        **common,
        "sgs": False,
        "params": _params_m(net) - sgs_params,
        "gflops": backbone_gflops,
        "published_gflops": published.gflops if matches else None,
        "published_params": published.params_m if matches else None,
        "published_source": published.source if matches else None,
        "diff_pct": 100 * (backbone_gflops / published.gflops - 1) if matches else None,
        "batch_norm": batch_norm,
        "published_batch_norm": published.batch_norm if matches else None,
        "skipped_ops": sorted(skipped),
    }]
    if not sgs:
        return rows
    sgs_common = {**common, "sgs": True, "insert_after": insert_after, "params": _params_m(net)}
    if isinstance(table, CostTable):
        for bins, gflops in sorted(table.per_bins.items()):
            rows.append({**sgs_common, "active_bins": bins, "gflops": gflops, "ratio": gflops / backbone_gflops})
    else:
        for combo, gflops in sorted(table.per_bins.items()):
            rows.append({
                **sgs_common, "active_bins": dict(zip(table.layers, combo)), "gflops": gflops,
                "ratio": gflops / backbone_gflops,
            })
    return rows


def format_rows(rows: list[dict[str, Any]], *, batch_norm: str = "none") -> str:
    """The human-readable table; skipped ops are listed once at the end."""
    convention = BATCH_NORM_TEXT[batch_norm]
    lines = [
        f"{UNITS}; convolutions + linear + matrix products, {convention}.",
        f"{'backbone':<18} {'frames':>6} {'crop':>5} {'params(M)':>9} {'GFLOPs':>9} "
        f"{'published':>9} {'diff':>7}  source",
    ]
    skipped: set[str] = set()
    for row in rows:
        if row["sgs"]:
            continue
        skipped.update(row["skipped_ops"])
        published = "" if row["published_gflops"] is None else f"{row['published_gflops']:.2f}"
        diff = "" if row["diff_pct"] is None else f"{row['diff_pct']:+.2f}%"
        source = SOURCES.get(row["published_source"], "")
        if row["published_source"] is not None and row["published_batch_norm"] != batch_norm:
            source += f" (reproduced with --batch-norm {row['published_batch_norm']})"
        if row["published_source"] is None and row["backbone"] in PUBLISHED:
            source = "(input differs from the published one)"
        lines.append(
            f"{row['backbone']:<18} {row['num_frames']:>6} {row['crop_size']:>5} {row['params']:>9.2f} "
            f"{row['gflops']:>9.3f} {published:>9} {diff:>7}  {source}"
        )
    sgs_rows = [row for row in rows if row["sgs"]]
    for backbone in dict.fromkeys(row["backbone"] for row in sgs_rows):
        mine = [row for row in sgs_rows if row["backbone"] == backbone]
        lines += ["", f"{backbone} + SGS after {mine[0]['insert_after']} ({mine[0]['params']:.2f} M params): "
                      "cost of a clip that keeps B' bins, SGS layer included"]
        if isinstance(mine[0]["active_bins"], int):
            lines += [f"  B' = {row['active_bins']:>3}: {row['gflops']:9.3f} GFLOPs ({row['ratio']:.3f} x backbone)"
                      for row in mine]
        else:
            lines += _format_pathway_rows(mine)
    if skipped:
        lines += ["", "fvcore counted these ops as 0 (element-wise, activations, pools, indexing): "
                  + ", ".join(sorted(skipped))]
    return "\n".join(lines)


def _format_pathway_rows(rows: list[dict[str, Any]]) -> list[str]:
    # A full grid is long (8 x 32 for SlowFast 8x8): print each pathway's B' with the other at
    # full length; the cost of any pair is additive (see PathwayCostTable), --json lists them all.
    layers = list(rows[0]["active_bins"])
    full = {name: max(row["active_bins"][name] for row in rows) for name in layers}
    lines = ["  cost is additive over pathways; each line keeps the other pathway at full length"]
    for name in layers:
        others = {k: v for k, v in full.items() if k != name}
        for row in rows:
            bins = row["active_bins"]
            if all(bins[k] == v for k, v in others.items()):
                lines.append(f"  {name} B' = {bins[name]:>3}: {row['gflops']:9.3f} GFLOPs ({row['ratio']:.3f} x backbone)")
    return lines
