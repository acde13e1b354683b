"""Multi-view (clips x crops) video accuracy: mean softmax over each video's views, DDP-exact."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
from torchmetrics import Metric
from torchmetrics.utilities.distributed import gather_all_tensors


class MultiViewAccuracy(Metric):
    """Top-k accuracy of per-video predictions averaged over views, plus per-view top-1.

    Each update takes the logits of some views; a view is identified by
    ``(video_index, view_index)``. The metric keeps, per video, the sum of the softmax of
    its distinct views, and the video's prediction is their mean (the 10 x 3 test of
    Kinetics: 30 views per video). A view seen twice (the padding a DDP sampler adds to even
    out the ranks, or a failed video replaced by its neighbour) counts once.

    Under DDP every update gathers the batch from all ranks first, so that duplicates are
    recognised across ranks and each rank ends with the same, complete state: all ranks must
    call ``update`` the same number of times (true for Lightning's padded distributed
    sampler), and ``compute`` does not synchronise again.

    State: ``prob_sum`` (V, K) float64, ``seen`` (V, num_views) bool, ``view_correct``
    (V, num_views) bool, ``labels`` (V,) int64 (-1 until seen). Memory is O(V * K), not
    O(V * num_views * K): about 64 MB for Kinetics-400 validation (20k x 400).

    Args:
        num_videos: V, the number of videos of the evaluated split.
        num_views: Views per video (``num_clips * num_crops``).
        num_classes: K.
        top_k: The k of the reported video accuracies.

    Shapes (``update``):
        logits (N, K), labels (N,), video_index (N,), view_index (N,), int64 indices.

    ``compute`` returns ``{"top<k>": video accuracy for each k, "top1_per_view": mean
    accuracy over distinct views, "num_videos": videos with at least one view,
    "num_views": distinct views seen}`` as 0-d tensors.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def __init__(self, *, num_videos: int, num_views: int, num_classes: int, top_k: Sequence[int] = (1, 5)) -> None:
        # The state is made identical on all ranks in update(); syncing again would double it.
        super().__init__(sync_on_compute=False)
        for name, value in (("num_videos", num_videos), ("num_views", num_views), ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid: expected an integer >= 1")
        bad = [k for k in top_k if not 1 <= k <= num_classes]
        if bad or not top_k:
            raise ValueError(f"top_k={tuple(top_k)!r} is invalid: expected values in 1..num_classes={num_classes}")
        self.num_videos = num_videos
        self.num_views = num_views
        self.num_classes = num_classes
        self.top_k = tuple(top_k)
        self.add_state("prob_sum", torch.zeros(num_videos, num_classes, dtype=torch.float64), dist_reduce_fx=None)
        self.add_state("seen", torch.zeros(num_videos, num_views, dtype=torch.bool), dist_reduce_fx=None)
        self.add_state("view_correct", torch.zeros(num_videos, num_views, dtype=torch.bool), dist_reduce_fx=None)
        self.add_state("labels", torch.full((num_videos,), -1, dtype=torch.int64), dist_reduce_fx=None)

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if dist.is_available() and dist.is_initialized() and dist.get_world_size(self.process_group) > 1:
            return torch.cat(gather_all_tensors(tensor.contiguous(), group=self.process_group))
        return tensor

    def update(
        self, logits: torch.Tensor, labels: torch.Tensor, video_index: torch.Tensor, view_index: torch.Tensor
    ) -> None:
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"logits must be (N, {self.num_classes}), got {tuple(logits.shape)}")
        count = logits.shape[0]
        for name, tensor in (("labels", labels), ("video_index", video_index), ("view_index", view_index)):
            if tensor.shape != (count,):
                raise ValueError(
                    f"{name} must be ({count},) like the logits' first dimension, got {tuple(tensor.shape)}"
                )
        device = self.prob_sum.device
        probs = self._gather(logits.detach().float().softmax(dim=1).to(device))
        labels = self._gather(labels.to(device, torch.int64))
        videos = self._gather(video_index.to(device, torch.int64))
        views = self._gather(view_index.to(device, torch.int64))
        if videos.numel() and (videos.min() < 0 or videos.max() >= self.num_videos):
            raise ValueError(f"video_index must be in 0..{self.num_videos - 1}, got {videos.min()}..{videos.max()}")
        if views.numel() and (views.min() < 0 or views.max() >= self.num_views):
            raise ValueError(f"view_index must be in 0..{self.num_views - 1}, got {views.min()}..{views.max()}")
        keys = videos * self.num_views + views
        # Keep the first row of each (video, view) key that was not seen in an earlier update.
        unique_keys, inverse = torch.unique(keys, return_inverse=True)
        positions = torch.arange(keys.numel(), device=device)
        first = torch.full_like(unique_keys, keys.numel()).scatter_reduce(0, inverse, positions, reduce="amin")
        first = first[~self.seen.view(-1)[unique_keys]]
        videos, views, labels, probs = videos[first], views[first], labels[first], probs[first]
        known = self.labels[videos]
        conflict = (known >= 0) & (known != labels)
        if conflict.any():
            video = int(videos[conflict][0])
            raise ValueError(
                f"video {video} was given label {int(labels[conflict][0])} after label {int(self.labels[video])}"
            )
        self.labels[videos] = labels
        self.seen[videos, views] = True
        self.view_correct[videos, views] = probs.argmax(dim=1) == labels
        self.prob_sum.index_add_(0, videos, probs.double())

    def video_probabilities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(video indices (M,), mean softmax (M, K))`` of the M videos with at least one view."""
        views_seen = self.seen.sum(dim=1)
        videos = torch.nonzero(views_seen, as_tuple=True)[0]
        return videos, self.prob_sum[videos] / views_seen[videos, None]

    def compute(self) -> dict[str, torch.Tensor]:
        videos, probs = self.video_probabilities()
        labels = self.labels[videos]
        result = {}
        for k in self.top_k:
            hits = (probs.topk(k, dim=1).indices == labels[:, None]).any(dim=1)
            result[f"top{k}"] = hits.double().mean() if videos.numel() else torch.tensor(float("nan"))
        views_seen = int(self.seen.sum())
        result["top1_per_view"] = (
            self.view_correct.sum().double() / views_seen if views_seen else torch.tensor(float("nan"))
        )
        result["num_videos"] = torch.tensor(videos.numel())
        result["num_views"] = torch.tensor(views_seen)
        return result
