"""Training sampler whose order is a function of (seed, epoch), sharded for DDP."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import DistributedSampler


class EpochShuffleSampler(DistributedSampler):
    """Shuffle with a permutation drawn from ``(seed, epoch)``; yield ``(epoch, index)`` pairs.

    Lightning calls :meth:`set_epoch` before every training epoch, so epoch ``e`` has the
    same order in a run resumed from a checkpoint as in an uninterrupted one. The index
    comes with its epoch because DataLoader workers (persistent ones included) hold their
    own copy of the dataset and never see ``set_epoch``: :class:`ClipDataset` seeds each
    item's random crop and temporal offset from ``(seed, epoch, index)``.

    With ``num_replicas > 1`` the permutation is padded by repeating its start to a
    multiple of ``num_replicas`` and rank ``r`` takes positions ``r, r + R, ...``
    (the :class:`~torch.utils.data.DistributedSampler` rule). Being a ``DistributedSampler``,
    Lightning uses it as is instead of wrapping it.

    Args:
        dataset: Anything with ``len()``.
        num_replicas: World size ``R``.
        rank: This process's global rank.
        seed: Seed of the permutations.
    """

    def __init__(self, dataset: Sized, *, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)

    def permutation(self, epoch: int) -> list[int]:
        """The full (unsharded, unpadded) order of ``epoch``."""
        # SeedSequence mixes (seed, epoch): DistributedSampler's seed + epoch would give
        # seed 0 / epoch 1 the same order as seed 1 / epoch 0.
        state = np.random.SeedSequence([self.seed, epoch]).generate_state(2, dtype=np.uint32)
        generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        return torch.randperm(len(self.dataset), generator=generator).tolist()

    def resume_at(self, *, epoch: int, position: int) -> None:
        """Make the next iteration yield epoch ``epoch``'s order from ``position`` on (one time).

        A run resumed mid-epoch continues with the items the interrupted run had not reached.
        """
        if not 0 <= position <= len(self):
            raise ValueError(f"resume position must be in 0..{len(self)}, got {position}")
        self.set_epoch(epoch)
        # Pinned: Lightning sets the epoch again after creating the iterator, and without workers
        # the DataLoader calls __iter__ only at the first batch.
        self._resume = (epoch, position)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, skip = getattr(self, "_resume", None) or (self.epoch, 0)
        self._resume = None
        order = self.permutation(epoch)
        total = math.ceil(len(order) / self.num_replicas) * self.num_replicas
        order += (order * math.ceil(total / len(order)))[: total - len(order)]
        return iter([(epoch, index) for index in order[self.rank : total : self.num_replicas][skip:]])

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.num_replicas)


class ShardedEvalSampler(DistributedSampler):
    """Evaluation order split over DDP ranks without padding: rank ``r`` takes items ``r, r + R, ...``.

    Lightning's default DistributedSampler repeats items so every rank gets as many, and the
    repeated clips then count twice in accuracy and GFLOPs: 1- and 2-process figures of the same
    checkpoint would differ. Here every item is evaluated exactly once (ranks differ by at most
    one item), so metrics synchronised across ranks equal the single-process ones.
    """

    def __init__(self, dataset: Sized, *, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))
