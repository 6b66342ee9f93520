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


@pytest.fixture(scope="session")
def robustbench_wrns(tmp_path_factory):
    """Two WRN-10-1 trained briefly on a tiny self-written CIFAR-format set (standard training and
    L∞ 8/255 PGD training), saved as RobustBench-layout state dicts (test_robustbench's renaming),
    as a researcher's robust models would come: {"data_dir", "standard", "robust" (paths),
    "states": {name: the state dict in our own layout}}."""
    import torch

    from advexplore.gpu import TrainConfig, load_checkpoint, train, write_smoke_cifar
    from test_robustbench import robustbench_layout

    root = tmp_path_factory.mktemp("robustbench")
    data = write_smoke_cifar(root / "cifar", n_train=48, n_test=16, seed=3)
    out = {"data_dir": str(data), "states": {}}
    for name, method in (("standard", "clean"), ("robust", "pgd")):
        config = TrainConfig(data_dir=str(data), out_dir=str(root / name), depth=10, widen_factor=1, epochs=3,
                             batch_size=16, steps=2, eval_steps=2, method=method, norm="linf", eps=8 / 255,
                             progress=False, autoattack=False, seed=1)
        train(config)
        state = load_checkpoint(root / name / "best.pt")["model"]
        torch.save(robustbench_layout(state), root / f"{name}.pt")
        out[name], out["states"][name] = str(root / f"{name}.pt"), state
    return out


@pytest.fixture(scope="session")
def wrn_by_hand():
    """by_hand(state, x, y, eps) -> (logits, correct, cross-entropy per image, ε‖∇ₓl‖₁ per image) of
    a WideResNet-10-1 holding `state` in our own key layout (not the RobustBench one), in eval
    mode: the numbers a checkpoint study must reproduce, computed without the library's loader."""
    import torch

    from advexplore.models import WideResNet

    def by_hand(state: dict, x, y, eps: float):
        model = WideResNet(10, 1)
        model.load_state_dict(state)
        model.eval()
        xg = x.clone().requires_grad_(True)
        logits = model(xg)
        losses = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        grad = torch.autograd.grad(losses.sum(), xg)[0]
        return (logits.detach().numpy(), (logits.argmax(1) == y).numpy(), losses.detach().numpy(),
                eps * grad.abs().flatten(1).sum(1).numpy())

    return by_hand
