"""notebooks/inspect_adaptive_resolution.ipynb runs headless on a tiny run and saves its figures."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "inspect_adaptive_resolution.ipynb"
FIGURES = {"bins_histogram.png", "mean_bins_per_class.png", "gflops_vs_accuracy.png", "bins_vs_need.png", "frame_strips.png"}


def _execute(run: Path, figures: Path, monkeypatch) -> None:
    # The notebook's parameters cell reads these; the kernel inherits this process's environment.
    monkeypatch.setenv("ATFR_RUN", str(run))
    monkeypatch.setenv("ATFR_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("source", ["wandb_offline_run", "wandb_off_run"])
def test_notebook_executes_and_saves_figures(source, request, tmp_path, monkeypatch):
    _, run_dir = request.getfixturevalue(source)
    _execute(run_dir, tmp_path / "figures", monkeypatch)
    saved = {p.name for p in (tmp_path / "figures").glob("*.png") if p.stat().st_size > 0}
    assert saved == FIGURES
