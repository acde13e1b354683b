"""Ablation of SGS options on the synthetic set, through the CLI (one training run each).

Every variant trains the quickstart's X3D (experiments/synthetic/x3d_sgs.yaml) with the same
seed, data and budget, then its validation summary (top-1, mean bins, mean GFLOPs per clip,
fvcore multiply-adds) is collected from ``summary.json``. Prints a Markdown table.

Run: ``python benchmarks/sgs_ablation.py [--epochs 10] [--accelerator gpu] [--variants ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from atfr_lightning.cli import run_cli

CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "synthetic" / "x3d_sgs.yaml"
NET = "--model.net.init_args."

VARIANTS: dict[str, list[str]] = {
    "no SGS (baseline)": [f"{NET}sgs=false"],
    "default": [],
    "reference (released code, padded)": [f"{NET}sgs_mode=reference", f"{NET}execution=padded"],
    "reference, exact execution": [f"{NET}sgs_mode=reference"],
    "default, kernel linear_normalized": [f"{NET}kernel=linear_normalized"],
    "default, distance norm": [f"{NET}distance=norm"],
    "default, order time": [f"{NET}sgs_order=time"],
}


def run_variant(
    name: str, overrides: list[str], *, epochs: int, accelerator: str, workdir: Path, extra: list[str]
) -> dict:
    run_dir = workdir / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    run_cli(
        [
            "fit",
            "--config",
            str(CONFIG),
            f"--trainer.max_epochs={epochs}",
            f"--trainer.accelerator={accelerator}",
            "--trainer.enable_progress_bar=false",
            "--trainer.logger=false",
            "--trainer.enable_checkpointing=false",
            "--trainer.callbacks=[]",
            "--trainer.callbacks+=atfr_lightning.callbacks.AdaptiveResolutionSummary",
            f"--trainer.default_root_dir={run_dir}",
            *overrides,
            *extra,
        ]
    )
    return json.loads(next(run_dir.rglob("summary.json")).read_text())["val"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("extra", nargs="*", help="more CLI overrides for every run (after --)")
    parser.add_argument("--accelerator", default="cpu", help="Lightning accelerator (cpu, gpu)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            rows[name] = run_variant(
                name, VARIANTS[name], epochs=args.epochs, accelerator=args.accelerator, workdir=Path(tmp), extra=args.extra
            )
            if args.out:  # after every variant, so a run cut short keeps what it measured
                args.out.write_text(json.dumps(rows, indent=2))
    print(f"\nSynthetic validation split (500 clips), {args.epochs} epochs each, seed 0, accelerator {args.accelerator}")
    print("| variant | top-1 (%) | mean active bins (of 16) | GFLOPs per clip (fvcore, multiply-adds) | ratio to no SGS |")
    print("| --- | --- | --- | --- | --- |")
    for name, result in rows.items():
        bins = result["mean_bins"].get("sgs")
        ratio = result["gflops_per_clip"] / result["backbone_gflops"]
        bins_text = f"{bins:.2f}" if bins is not None else "16 (no SGS)"
        print(f"| {name} | {result['top1'] * 100:.1f} | {bins_text} | {result['gflops_per_clip']:.4f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
