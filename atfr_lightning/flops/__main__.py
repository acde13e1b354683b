"""``python -m atfr_lightning.flops``: parameters and GFLOPs of registered backbones.

Examples::

    python -m atfr_lightning.flops                                   # every backbone, published inputs
    python -m atfr_lightning.flops --backbone x3d_s --sgs            # + the cost at every B'
    python -m atfr_lightning.flops --backbone slow_r50 --num-frames 8 --crop-size 224 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from atfr_lightning.flops.report import BATCH_NORM, UNITS, format_rows, measure
from atfr_lightning.models import available_backbones, get_backbone_spec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m atfr_lightning.flops",
        description=f"Parameters and GFLOPs of registered backbones, with and without SGS. {UNITS}.",
    )
    parser.add_argument("--backbone", action="append", choices=available_backbones(),
                        help="a registered backbone (repeat for several; default: all)")
    parser.add_argument("--num-frames", type=int, help="clip length T (default: the published figure's input)")
    parser.add_argument("--crop-size", type=int, help="H = W (default: the published figure's input)")
    parser.add_argument("--sgs", action="store_true", help="also print the cost with SGS at every B'")
    parser.add_argument("--insert-after", default="res2", help="the stage SGS follows (default: res2)")
    parser.add_argument("--batch-norm", choices=tuple(BATCH_NORM), default="none",
                        help="how to count batch norm: none (default; the X3D paper, zoo Slow and SlowFast 8x8), "
                             "eval (fvcore in evaluation), train (fvcore in training mode; the zoo's other figures)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    args = parser.parse_args(argv)
    for value, flag in ((args.num_frames, "--num-frames"), (args.crop_size, "--crop-size")):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    for backbone in args.backbone or []:
        stages = get_backbone_spec(backbone).sgs_stages
        if args.insert_after not in stages:
            parser.error(f"--insert-after must be one of {stages} for {backbone}, got {args.insert_after!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = []
    for backbone in args.backbone or available_backbones():
        mine = measure(
            backbone, num_frames=args.num_frames, crop_size=args.crop_size, sgs=args.sgs,
            insert_after=args.insert_after, batch_norm=args.batch_norm,
        )
        if args.json:
            for row in mine:
                print(json.dumps(row), flush=True)
        rows += mine
    if not args.json:
        print(format_rows(rows, batch_norm=args.batch_norm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
