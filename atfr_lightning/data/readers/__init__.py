"""Annotation readers, one module per dataset family, in plain Python (no torch, no Lightning).

* :mod:`~atfr_lightning.data.readers.annotations`: what they share (:class:`VideoRecord`,
  :class:`AnnotationError`, tolerant line reading, JSON with line numbers);
* :mod:`~atfr_lightning.data.readers.path_label`: PySlowFast ``<path> <label>`` lists;
* :mod:`~atfr_lightning.data.readers.kinetics`, :mod:`~atfr_lightning.data.readers.ssv2`,
  :mod:`~atfr_lightning.data.readers.ucf101`, :mod:`~atfr_lightning.data.readers.hmdb51`: the
  official files of each dataset.
"""
