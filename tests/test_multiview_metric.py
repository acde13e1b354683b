"""MultiViewAccuracy: per-video mean softmax against a slow loop, duplicates removed, exact under DDP.

Kept free of Lightning so the two spawned DDP processes start quickly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from atfr_lightning.metrics import MultiViewAccuracy

NUM_VIDEOS, NUM_VIEWS, NUM_CLASSES = 7, 3, 6


def _views(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (V, views, K) and labels (V,) of a made-up evaluation."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(NUM_VIDEOS, NUM_VIEWS, NUM_CLASSES, generator=generator) * 2
    labels = torch.randint(0, NUM_CLASSES, (NUM_VIDEOS,), generator=generator)
    return logits, labels


def _reference(logits: torch.Tensor, labels: torch.Tensor, videos: list[int]) -> dict[str, float]:
    """Slow loop from the definition, over the videos in ``videos`` and all their views."""
    hits = {1: 0, 5: 0}
    for video in videos:
        mean = sum(torch.softmax(logits[video, view], dim=0) for view in range(NUM_VIEWS)) / NUM_VIEWS
        ranked = sorted(range(NUM_CLASSES), key=lambda k: -float(mean[k]))
        for k in hits:
            hits[k] += int(labels[video]) in ranked[:k]
    per_view = sum(int(logits[v, w].argmax()) == int(labels[v]) for v in videos for w in range(NUM_VIEWS))
    return {
        "top1": hits[1] / len(videos),
        "top5": hits[5] / len(videos),
        "top1_per_view": per_view / (len(videos) * NUM_VIEWS),
    }


def _flat_items(order: list[tuple[int, int]], logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    videos = torch.tensor([v for v, _ in order])
    views = torch.tensor([w for _, w in order])
    return logits[videos, views], labels[videos], videos, views


def test_metric_matches_the_definition_and_ignores_duplicates() -> None:
    logits, labels = _views()
    order = [(v, w) for v in range(NUM_VIDEOS - 1) for w in range(NUM_VIEWS)]  # the last video is never seen
    order = [order[i] for i in torch.randperm(len(order), generator=torch.Generator().manual_seed(1)).tolist()]
    order += order[:5] + order[3:4]  # padding duplicates, one of them twice
    metric = MultiViewAccuracy(num_videos=NUM_VIDEOS, num_views=NUM_VIEWS, num_classes=NUM_CLASSES)
    flat = _flat_items(order, logits, labels)
    for start in range(0, len(order), 5):
        metric.update(*(t[start : start + 5] for t in flat))
    result = metric.compute()
    expected = _reference(logits, labels, list(range(NUM_VIDEOS - 1)))
    for name, value in expected.items():
        assert float(result[name]) == pytest.approx(value, abs=1e-12), name
    assert int(result["num_videos"]) == NUM_VIDEOS - 1 and int(result["num_views"]) == (NUM_VIDEOS - 1) * NUM_VIEWS
    videos, probs = metric.video_probabilities()
    assert videos.tolist() == list(range(NUM_VIDEOS - 1))
    torch.testing.assert_close(probs, logits[:-1].double().softmax(dim=2).mean(dim=1))


def test_metric_argument_errors() -> None:
    with pytest.raises(ValueError, match="num_views=0 is invalid"):
        MultiViewAccuracy(num_videos=2, num_views=0, num_classes=3)
    with pytest.raises(ValueError, match=r"top_k=\(1, 5\) is invalid: expected values in 1..num_classes=3"):
        MultiViewAccuracy(num_videos=2, num_views=1, num_classes=3)
    metric = MultiViewAccuracy(num_videos=2, num_views=2, num_classes=3, top_k=(1,))
    with pytest.raises(ValueError, match=r"view_index must be in 0..1, got 0..2"):
        metric.update(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.tensor([0, 1]), torch.tensor([0, 2]))
    metric.update(torch.zeros(1, 3), torch.tensor([0]), torch.tensor([1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="video 1 was given label 2 after label 0"):
        metric.update(torch.zeros(1, 3), torch.tensor([2]), torch.tensor([1]), torch.tensor([1]))


def _metric_rank(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    logits, labels = _views()
    order = [(v, w) for v in range(NUM_VIDEOS) for w in range(NUM_VIEWS)]  # 21 items
    padded = order + order[: (-len(order)) % world_size]  # DistributedSampler-style padding to 22
    shard = padded[rank::world_size]
    metric = MultiViewAccuracy(num_videos=NUM_VIDEOS, num_views=NUM_VIEWS, num_classes=NUM_CLASSES)
    flat = _flat_items(shard, logits, labels)
    for start in range(0, len(shard), 4):  # uneven last batches across ranks
        metric.update(*(t[start : start + 4] for t in flat))
    result = {name: float(value) for name, value in metric.compute().items()}
    Path(f"{out_file}.{rank}").write_text(json.dumps(result))
    dist.destroy_process_group()


def test_metric_is_exact_under_ddp(tmp_path: Path) -> None:
    world_size = 2
    mp.spawn(_metric_rank, args=(world_size, str(tmp_path / "init"), str(tmp_path / "out")), nprocs=world_size)
    logits, labels = _views()
    expected = _reference(logits, labels, list(range(NUM_VIDEOS)))
    for rank in range(world_size):
        result = json.loads(Path(f"{tmp_path / 'out'}.{rank}").read_text())
        assert result["num_views"] == NUM_VIDEOS * NUM_VIEWS  # the padding duplicate counted once
        for name, value in expected.items():
            assert result[name] == pytest.approx(value, abs=1e-12), (rank, name)
