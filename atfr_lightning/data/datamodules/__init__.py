"""LightningDataModules: the shared :class:`VideoDataModule` and one per dataset.

* :mod:`~atfr_lightning.data.datamodules.video`: :class:`VideoDataModule`, the recipe, loaders
  and reports every dataset shares;
* :mod:`~atfr_lightning.data.datamodules.kinetics` (Kinetics, mini-Kinetics),
  :mod:`~atfr_lightning.data.datamodules.ssv2`, :mod:`~atfr_lightning.data.datamodules.ucf101`,
  :mod:`~atfr_lightning.data.datamodules.hmdb51`: the paper's datasets;
* :mod:`~atfr_lightning.data.datamodules.synthetic`: the synthetic set, generated on first use;
* :mod:`~atfr_lightning.data.datamodules.video_folder`: unlabelled videos for ``atfr predict``;
* :mod:`~atfr_lightning.data.datamodules.decode_failures`: the end-of-epoch report of unreadable videos.
"""
