"""A tiny labelled clip dataset of random tensors for module-level fits (no decoding)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class RandomClips(Dataset):
    """``count`` clips (3, 8, 32, 32) with labels in 0..2 and ``video_index`` = ``first_id + index``."""

    def __init__(self, count: int, *, first_id: int = 0) -> None:
        generator = torch.Generator().manual_seed(0)
        self.videos = torch.randn(count, 3, 8, 32, 32, generator=generator)
        self.labels = torch.randint(0, 3, (count,), generator=generator)
        self.first_id = first_id

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"video": self.videos[index], "label": self.labels[index], "video_index": self.first_id + index}
