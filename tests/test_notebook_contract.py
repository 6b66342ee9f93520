"""Every notebook keeps the contract the CLI, `make run` and the tests rely on: a tagged
papermill `parameters` cell whose every line parses (typed literals), the standard
parameters, the python3 kernel, and no committed outputs."""
import logging
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks():
    assert len([p for p in NOTEBOOKS if p.parent.name == "notebooks"]) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_contract(path, caplog):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    with caplog.at_level(logging.WARNING, logger="papermill"):
        params = pm.inspect_notebook(str(path))
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()], caplog.text
    assert {"interactive", "results_path", "seed"} <= set(params)
    untyped = [k for k, v in params.items() if v["inferred_type_name"] == "None"]
    assert not untyped, f"parameters without a type hint: {untyped}"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs committed"
    assert path.stat().st_size < 300_000
