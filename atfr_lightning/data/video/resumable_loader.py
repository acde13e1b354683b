"""A training DataLoader that continues mid-epoch where a resumed run stopped."""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import DataLoader

from atfr_lightning.data.video.samplers import EpochShuffleSampler


class ResumableDataLoader(DataLoader):
    """A DataLoader with Lightning's ``state_dict`` / ``load_state_dict`` interface.

    Without it Lightning restarts a resumed epoch from its first batch (and, with workers, in the
    previous epoch's order), so a resumed run trains on other batches than the uninterrupted one.
    Loading a checkpoint sets a flag; the next ``iter()`` asks ``resume_point()`` for (epoch,
    batches already trained in it), taken from the restored training loop, and starts the
    :class:`EpochShuffleSampler` there. Items are seeded by ``(seed, epoch, index)``, so the
    skipped batches are never loaded and the rest are the same tensors as in the uninterrupted run.

    Attributes:
        resume_point: set by the datamodule; ``(batches_per_epoch) -> (epoch, batches_done)``.
    """

    resume_point: Callable[[int], tuple[int, int]] | None = None
    _resume_pending: bool = False

    def state_dict(self) -> dict:
        # The position itself lives in Lightning's loop progress (saved with every checkpoint);
        # this marks the loader as resumable and records the epoch for inspection.
        return {"epoch": getattr(self.sampler, "epoch", 0)}

    def load_state_dict(self, state_dict: dict) -> None:
        self._resume_pending = True

    def __iter__(self):
        if self._resume_pending and self.resume_point is not None and isinstance(self.sampler, EpochShuffleSampler):
            epoch, batches = self.resume_point(len(self))
            self.sampler.resume_at(epoch=epoch, position=min(batches * self.batch_size, len(self.sampler)))
        self._resume_pending = False
        return super().__iter__()
