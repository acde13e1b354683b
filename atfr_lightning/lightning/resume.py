"""What exact resumption needs beyond Lightning's own checkpoint: RNG states and atomic files."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torchmetrics import Metric


def capture_rng_states() -> dict[str, Any]:
    """Python's, numpy's and torch's global generators (CUDA's too where present)."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    # Plain types and tensors only: Lightning loads checkpoints with torch.load(weights_only=True).
    numpy_state = (name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached))
    states: dict[str, Any] = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def metric_states(metrics: dict[str, Metric]) -> dict[str, dict[str, Any]]:
    """The accumulated states of torchmetrics objects (not in ``state_dict``: they are not persistent)."""
    saved = {}
    for name, metric in metrics.items():
        states = {k: (list(v) if isinstance(v, list) else v.detach().clone()) for k, v in metric.metric_state.items()}
        saved[name] = {"states": states, "update_count": metric._update_count}
    return saved


def load_metric_states(metrics: dict[str, Metric], saved: dict[str, dict[str, Any]]) -> None:
    """Put back what :func:`metric_states` took, so an epoch's aggregate covers the batches before a resume."""
    for name, entry in saved.items():
        if name not in metrics:
            continue
        metric = metrics[name]
        for state, value in entry["states"].items():
            setattr(metric, state, value.to(metric.device) if isinstance(value, torch.Tensor) else value)
        metric._update_count = entry["update_count"]
        metric._computed = None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file beside it, fsync, then rename over the target.

    Lightning's own save goes through fsspec, which stages local files in the system's temp
    folder and *moves* them: across file systems (local /tmp, checkpoints on shared storage)
    that is a copy, and a job killed during it leaves a truncated ``last.ckpt``. A rename in
    the same folder is atomic: the previous checkpoint stays loadable until the new one is whole.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"AtomicCheckpointIO takes no storage_options, got {storage_options!r}")
        if "://" in str(path) and not str(path).startswith("file://"):
            return super().save_checkpoint(checkpoint, path)  # remote storage: fsspec's transaction
        path = Path(str(path).removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
