"""From annotated videos to batches of clips, in torch (no Lightning).

* :mod:`~atfr_lightning.data.video.decoding`: frames of encoded videos and frame folders;
* :mod:`~atfr_lightning.data.video.temporal_sampling`: which frames a clip takes, seeded per item;
* :mod:`~atfr_lightning.data.video.transforms`: spatial transforms on ``(C, T, H, W)`` clips;
* :mod:`~atfr_lightning.data.video.clip_dataset`: :class:`ClipDataset`, one item per
  (video, clip, crop) view, unreadable videos skipped;
* :mod:`~atfr_lightning.data.video.samplers`: the training order of ``(seed, epoch)`` and the
  evaluation split over DDP ranks;
* :mod:`~atfr_lightning.data.video.resumable_loader`: the training DataLoader that resumes mid-epoch.
"""
