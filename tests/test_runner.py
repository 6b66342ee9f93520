"""The main job itself (`make run HEADLESS=1` = `python -m advexplore.app.run_notebooks`), run the
way a user runs it: from another folder, with a RELATIVE --out. Its index.json must hold each
notebook's numbers (they were silently lost once: results_path was resolved in the kernel's cwd)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.notebook


def test_runner_index_holds_every_notebooks_numbers(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "advexplore.app.run_notebooks", "--out", "runs", "--only", "01", "03"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = {r["notebook"]: r for r in json.loads((run_dir / "index.json").read_text())}
    assert set(records) == {"01_linear_adversarial_risk.ipynb", "03_low_dim_convergence.ipynb"}
    for name, record in records.items():
        assert record["status"] == "ok", record
        assert (run_dir / name).exists() and (run_dir / name.replace(".ipynb", ".json")).exists()

    # 01 at its defaults (d = 10, ‖θ0‖ = 3, σ² = 1, ε = 1): v² = ‖θ0‖² + σ² = 10 by hand, and R*(ε)
    # is the minimum over t of eq. 5 along θ = tθ0, with θ0 = (3/√10)·1: with s² = (1−t)²·9 + 1,
    # R(t) = s² + ε²t²·9 + 2ε c0 (3t) s — minimised here on a fine grid, independently of the library.
    r01 = records["01_linear_adversarial_risk.ipynb"]["results"]
    assert r01["v2"] == pytest.approx(10.0, rel=1e-12)
    c0 = math.sqrt(2 / math.pi)
    brute = min((1 - t) ** 2 * 9 + 1 + t * t * 9 + 2 * c0 * 3 * t * math.sqrt((1 - t) ** 2 * 9 + 1)
                for t in (k / 20000 for k in range(20001)))
    assert r01["r_star"] == pytest.approx(brute, rel=1e-6)

    # 03: one excess risk and one distance per sample size, excess ≥ 0 (R* is the minimum)
    r03 = records["03_low_dim_convergence.ipynb"]["results"]
    assert r03["ns"] == [30, 100, 300, 1000]
    assert len(r03["excess_risk"]) == len(r03["distance"]) == 4
    assert min(r03["excess_risk"]) > -1e-9
