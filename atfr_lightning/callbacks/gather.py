"""Per-clip rows from every DDP rank, and W&B runs to log them to (rank 0 only)."""

from __future__ import annotations

import os

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger


def gather_clip_rows(trainer: L.Trainer, columns: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Concatenate per-clip columns (each (N_rank,)) over all ranks -> (N_total,) on CPU.

    Every rank must call this (it is a collective). Ranks may hold different numbers of clips,
    so each pads to the largest count before ``all_gather`` and the padding is cut afterwards.
    When a ``"video_index"`` column is present and several ranks took part, a clip seen twice
    (a padding DistributedSampler repeats clips to even out the ranks) is kept once: clips are
    keyed by ``(video_index, view_index)``, so the views of a multi-view test all stay. Rows
    without a video index (-1: the batch had none) cannot be told apart and are all kept.
    """
    strategy = trainer.strategy
    world = trainer.world_size
    if world == 1:
        return {name: column.detach().cpu() for name, column in columns.items()}
    device = strategy.root_device
    count = torch.tensor([len(next(iter(columns.values())))], device=device)
    counts = strategy.all_gather(count).reshape(world).tolist()  # (world,)
    longest = max(counts)
    gathered = {}
    for name, column in columns.items():
        column = column.detach().to(device)
        padded = torch.zeros((longest,), dtype=column.dtype, device=device)
        padded[: len(column)] = column
        stacked = strategy.all_gather(padded).reshape(world, longest).cpu()  # (world, longest)
        gathered[name] = torch.cat([stacked[rank, :n] for rank, n in enumerate(counts)])
    if "video_index" in gathered:
        gathered = _unique_clips(gathered)
    return gathered


def _unique_clips(columns: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Keep the first occurrence of each (video_index, view_index), in gathered order.
    views = columns.get("view_index", torch.zeros_like(columns["video_index"]))
    seen: set[tuple[int, int]] = set()
    keep = []
    for row, key in enumerate(zip(columns["video_index"].tolist(), views.tolist())):
        if key[0] < 0:
            keep.append(row)
        elif key not in seen:
            seen.add(key)
            keep.append(row)
    rows = torch.tensor(keep, dtype=torch.long)
    return {name: column[rows] for name, column in columns.items()}


def wandb_runs(trainer: L.Trainer) -> list:
    """The live W&B runs of the trainer's WandbLoggers on this rank (none when W&B is disabled)."""
    if trainer.global_rank != 0 or os.environ.get("WANDB_MODE") == "disabled":
        return []
    runs = []
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            if not getattr(run, "disabled", False) and hasattr(run, "log"):
                runs.append(run)
    return runs


def log_to_wandb(trainer: L.Trainer, record: dict) -> None:
    """Log one record on rank 0 with the global step inside it (WandbLogger's step metric)."""
    for run in wandb_runs(trainer):
        # Never pass step=: Lightning's WandbLogger defines "trainer/global_step" as the x axis,
        # and an explicit step out of order would be dropped by W&B.
        run.log({**record, "trainer/global_step": trainer.global_step})


def run_folder(trainer: L.Trainer) -> str:
    """The run folder: the logger's folder when it has one, else the trainer's root.

    Call it on every rank: under DDP ``trainer.log_dir`` broadcasts rank 0's answer.
    """
    return trainer.log_dir or trainer.default_root_dir
