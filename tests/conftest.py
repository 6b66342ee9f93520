"""Shared fixtures. `run_notebook` executes a notebook headless through papermill with
small parameters and returns the numbers it saved with advexplore.results.save_results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture
def one_thread():
    """Small matrices: one torch thread is much faster, above all on a shared, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run_notebook(tmp_path):
    import papermill as pm

    def run(name: str, **parameters) -> dict:
        src = NOTEBOOKS / name
        if not src.suffix:
            src = src.with_suffix(".ipynb")
        out = tmp_path / src.name
        results = tmp_path / (src.stem + ".json")
        pm.execute_notebook(
            str(src), str(out),
            parameters={"interactive": False, "results_path": str(results), **parameters},
            kernel_name="python3", cwd=str(src.parent), progress_bar=False,
        )
        assert results.exists(), f"{name} did not write its results (save_results)"
        return json.loads(results.read_text())

    return run
