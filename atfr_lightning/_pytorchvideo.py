"""Import PyTorchVideo without torchvision.

pytorchvideo 0.1.5 imports two torchvision names at import time in the parts this project
uses (``torchvision.ops.RoIAlign`` for an AVA detection head we never build, and
``torchvision.datasets.folder.make_dataset`` for a loader we never call). No torchvision
build matching our CPU torch can be installed, and a *permanent* fake ``torchvision`` in
``sys.modules`` would make Lightning and torchmetrics believe torchvision is installed.
So a stand-in is present only while pytorchvideo imports, then removed.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from types import ModuleType

_LOCK = threading.Lock()


class _TorchvisionStandIn:
    """Placeholder for a torchvision callable pytorchvideo imports but we never use."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(
            f"torchvision.{self._name} is not available: atfr-lightning runs without torchvision "
            "and this pytorchvideo feature needs it."
        )


def _stand_in_modules() -> dict[str, ModuleType]:
    root = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    datasets = types.ModuleType("torchvision.datasets")
    folder = types.ModuleType("torchvision.datasets.folder")
    ops.RoIAlign = _TorchvisionStandIn("ops.RoIAlign")
    folder.make_dataset = _TorchvisionStandIn("datasets.folder.make_dataset")
    root.ops, root.datasets, datasets.folder = ops, datasets, folder
    return {
        "torchvision": root,
        "torchvision.ops": ops,
        "torchvision.datasets": datasets,
        "torchvision.datasets.folder": folder,
    }


def import_pytorchvideo(module: str) -> ModuleType:
    """Import ``module`` (a ``pytorchvideo.*`` name) with a temporary torchvision stand-in.

    If a real torchvision is importable it is used as is.
    """
    if not module.startswith("pytorchvideo"):
        raise ValueError(f"expected a pytorchvideo module name, got {module!r}")
    if module in sys.modules:
        return sys.modules[module]
    with _LOCK:
        if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
            return importlib.import_module(module)
        stand_ins = _stand_in_modules()
        sys.modules.update(stand_ins)
        try:
            return importlib.import_module(module)
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]
