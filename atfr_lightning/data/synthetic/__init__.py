"""The synthetic action dataset: generated on demand, nothing to download (numpy and PyAV only).

* :mod:`~atfr_lightning.data.synthetic.generator`: parameters, cache key, labels, H.264 files,
  lists and metadata, atomic generation and the command line;
* :mod:`~atfr_lightning.data.synthetic.appear`, :mod:`~atfr_lightning.data.synthetic.cue`,
  :mod:`~atfr_lightning.data.synthetic.motion`: the three tasks' renderers;
* :mod:`~atfr_lightning.data.synthetic.shapes`: drawing helpers of the appear and cue tasks.

Generate it from a shell (see :func:`atfr_lightning.data.synthetic.generator.main`)::

    python -m atfr_lightning.data.synthetic --root DIR [--task appear|cue|motion --num-train N --num-val N ...]

The LightningDataModule that reads it is
:class:`atfr_lightning.data.datamodules.synthetic.SyntheticDataModule`.
"""
