"""What the GPU notebooks run: arms of TrainConfig, smoke-mode settings, the paper's reported
numbers, summary tables and accuracy-vs-ε curves (notebooks hold no logic of their own)."""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..gpu.config import TrainConfig
from ..gpu.data import load_split, write_smoke_cifar
from ..gpu.distributed import pick_device
from ..gpu.evaluate import evaluate
from ..gpu.trainer import build_model
from ..gpu.checkpoint import load_checkpoint

# paper 002: mean std / adv test accuracy (%) of WRN-34-10 on CIFAR-10 (std. dev. over runs)
PAPER_TABLE1 = {"benchmark": (84.35, 61.76), "LASSO": (86.57, 63.07)}   # L2, ε = 0.5; LASSO λ = 1e-5
PAPER_TABLE2 = {"benchmark": (82.87, 50.34), "LASSO": (84.80, 54.26)}   # L∞, ε = 8/255; LASSO λ = 1e-5
# the standard deviations the paper gives beside them (std, adv), over its repeated runs
PAPER_TABLE1_SD = {"benchmark": (0.355, 0.204), "LASSO": (0.214, 0.292)}
PAPER_TABLE2_SD = {"benchmark": (0.131, 0.315), "LASSO": (0.282, 0.376)}


@dataclass(frozen=True)
class LassoTable:
    """One of paper 002's CIFAR-10 LASSO tables (§3.2 and §4): WRN-34-10 adversarially trained
    with PGD under `norm` at radius `eps`, benchmark vs LASSO λΣ|w| with λ = `lasso`.
    paper / paper_sd: {arm: (std acc %, adv acc %)}, the reported mean and sd over runs."""
    number: int
    norm: str
    eps: float
    lasso: float
    paper: dict
    paper_sd: dict

    def attack_eps(self, eps: float = 0.0) -> float:
        """The radius to train and evaluate at: `eps` if it is > 0, else the table's ε."""
        return float(eps) if eps > 0 else self.eps


LASSO_TABLES = {"l2": LassoTable(1, "l2", 0.5, 1e-5, PAPER_TABLE1, PAPER_TABLE1_SD),        # Table 1
                "linf": LassoTable(2, "linf", 8 / 255, 1e-5, PAPER_TABLE2, PAPER_TABLE2_SD)}  # Table 2


def lasso_table(norm: str) -> LassoTable:
    """Paper 002's Table 1 for norm "l2" (ε = 0.5) or Table 2 for norm "linf" (ε = 8/255):
    settings and the reported std / adv accuracies (84.35/61.76 → 86.57/63.07 and
    82.87/50.34 → 84.80/54.26, benchmark → LASSO 1e-5)."""
    if norm not in LASSO_TABLES:
        raise ValueError(f"norm must be one of {sorted(LASSO_TABLES)} (Table 1: l2, Table 2: linf), got {norm!r}")
    return LASSO_TABLES[norm]

# smoke mode: a WRN-10-1 on a few self-written CIFAR-format images, seconds on a laptop CPU;
# AutoAttack (when the notebook's `autoattack` is on) is its fast version on the first 4 test images
SMOKE_EVAL = dict(eval_steps=2, test_subset=0, autoattack_version="fast", autoattack_subset=4)
SMOKE = dict(depth=10, widen_factor=1, steps=2, batch_size=16, eval_subset=16, train_subset=0, progress=False,
             **SMOKE_EVAL)


def prepare_data(data_dir: str, smoke: bool, seed: int = 0, n_train: int = 48, n_test: int = 24) -> str:
    """data_dir itself, or (smoke mode with data_dir "") a fresh temp dir holding a tiny
    CIFAR-format data set written by write_smoke_cifar. Outside smoke mode data_dir is required."""
    if data_dir:
        return str(Path(data_dir).expanduser())
    if not smoke:
        raise ValueError("data_dir must name the CIFAR-10 python batches (cifar-10-batches-py/) "
                         "unless smoke=True, which writes a tiny stand-in data set itself")
    return str(write_smoke_cifar(tempfile.mkdtemp(prefix="advexplore_cifar_"), n_train, n_test, seed))


def prepare_out_dir(out_dir: str, smoke: bool) -> str:
    """out_dir, or a temp dir in smoke mode when out_dir is "" (real runs keep their checkpoints)."""
    if out_dir:
        return out_dir
    if not smoke:
        raise ValueError("out_dir must be given for a real run (checkpoints, metrics, resume)")
    return tempfile.mkdtemp(prefix="advexplore_runs_")


def make_arms(base: dict, arms: dict[str, dict], out_dir: str, smoke: bool) -> dict[str, TrainConfig]:
    """One TrainConfig per arm: base settings, then SMOKE (in smoke mode), then the arm's own
    changes; each arm writes to out_dir/<arm name>."""
    configs = {}
    for name, changes in arms.items():
        values = {**base, **(SMOKE if smoke else {}), **changes}
        values["out_dir"] = str(Path(out_dir) / name.replace(" ", "_").replace("/", "-"))
        values.setdefault("extra", {})
        values["extra"] = {**values["extra"], "arm": name}
        configs[name] = TrainConfig(**values)
    return configs


def autoattack_label(config: dict) -> str:
    """How the run's AutoAttack was set: "off", or "<version>" on all test images or
    "<version>, first <k> images"."""
    if not config.get("autoattack"):
        return "off"
    version, subset = config.get("autoattack_version", "standard"), config.get("autoattack_subset", 0)
    return version + (f", first {subset} images" if subset else "")


def summary_row(results: dict) -> dict:
    """Final numbers of one run in %: std (clean) and adv (PGD-20) accuracy of the best
    checkpoint, AutoAttack (None if off or not installed; `autoattack` says how it was set:
    autoattack_label), the loss gap and its surrogate, best epoch and cost: time, memory, passes
    and the measured FLOPs per training image and in all (None for a model from disk, which
    had no training here: checkpoint_results)."""
    final, cost = results["final"], results["cost"] or {}
    aa = final.get("autoattack_acc")
    return {"std_acc": 100 * final["clean_acc"], "adv_acc": 100 * final["robust_acc"],
            "autoattack_acc": None if aa is None else 100 * aa, "autoattack": autoattack_label(results["config"]),
            "gap": final["gap"], "surrogate": final["surrogate"], "best_epoch": results["best_epoch"],
            **{key: cost.get(key) for key in ("seconds", "gpu_hours", "images_per_s", "passes_per_image",
                                              "peak_memory_gb", "flops_per_image", "train_flops")}}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Sample mean and standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def run_names(arm: str, reps: int) -> list[str]:
    """The names repeat_arms gives the runs of `arm`: "<arm> rep <r>", or just "<arm>" when reps == 1."""
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise ValueError(f"reps must be a positive int, got {reps!r}")
    return [arm] if reps == 1 else [f"{arm} rep {r}" for r in range(reps)]


def repeat_arms(arms: dict[str, dict], reps: int, seed: int = 0) -> dict[str, dict]:
    """Each arm `reps` times with seeds seed, seed + 1, …, named by run_names, as the paper's
    tables (and Fig. 2) report mean (sd) over repeated runs."""
    return {name: {"seed": seed + r, **changes}
            for arm, changes in arms.items() for r, name in enumerate(run_names(arm, reps))}


def arm_summary(rows: dict[str, dict], arms: list[str]) -> dict[str, dict]:
    """Per arm, the mean over its runs (named as repeat_arms names them) of every number in
    summary_row (seconds and gpu_hours: the sum, the arm's whole cost), plus std_sd / adv_sd: the sample standard deviations of std_acc / adv_acc
    (0 for one run) and runs: how many runs. rows: {run name: summary_row(...)}."""
    out = {}
    for arm in arms:
        runs = [rows[n] for n in rows if n == arm or n.startswith(f"{arm} rep ")]
        if not runs:
            raise ValueError(f"no runs of arm {arm!r} among {sorted(rows)}")
        summary = {}
        for key, value in runs[0].items():
            values = [r[key] for r in runs]
            if key in ("seconds", "gpu_hours", "train_flops"):  # what the arm cost: all its runs together
                summary[key] = sum(values)
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                summary[key] = mean_std(values)[0]
            else:
                summary[key] = value if all(v == value for v in values) else None
        summary["std_sd"] = mean_std([r["std_acc"] for r in runs])[1]
        summary["adv_sd"] = mean_std([r["adv_acc"] for r in runs])[1]
        summary["runs"] = len(runs)
        out[arm] = summary
    return out


def accuracy_vs_eps(config: TrainConfig, eps_grid: list[float], checkpoint: str = "best.pt",
                    steps: int | None = None, batch_size: int = 256) -> list[dict]:
    """Test accuracy of a finished run's checkpoint under PGD at each ε of eps_grid (paper 002,
    Fig. 2 plots accuracy against the attack level): [{eps, clean_acc, robust_acc}, ...]."""
    device = pick_device(config.device)
    model = build_model(config).to(device)
    model.load_state_dict(load_checkpoint(Path(config.out_dir) / checkpoint, map_location=device)["model"])
    x, y = load_split(config.data_dir, "test", config.test_subset, device)
    gen = torch.Generator(device=device)
    rows = []
    for eps in eps_grid:
        gen.manual_seed(config.seed + 777)
        ev = evaluate(model, x, y, float(eps), config.norm, steps or config.eval_steps, batch_size=batch_size,
                      generator=gen)
        rows.append({"eps": float(eps), "clean_acc": ev["clean_acc"], "robust_acc": ev["robust_acc"]})
    return rows


def history_band(histories: list[list[dict]], key: str, scale: float = 100.0) -> tuple[list, list, list]:
    """Mean ± sample sd over runs of `key` in the per-epoch histories (epochs without `key`,
    e.g. not evaluated, are skipped): (epochs, [mean_e], [sd_e]) with
    mean_e = (1/R) Σ_r scale·h_r[e][key], sd_e = √(Σ_r (scale·h_r[e][key] − mean_e)²/(R − 1))
    (0 for one run). All runs must record `key` at the same epochs."""
    epochs = [[h["epoch"] for h in run if key in h] for run in histories]
    if not histories or any(e != epochs[0] for e in epochs):
        raise ValueError(f"the runs record {key!r} at different epochs: {epochs}")
    columns = [[scale * h[key] for h in run if key in h] for run in histories]
    stats = [mean_std([c[i] for c in columns]) for i in range(len(epochs[0]))]
    return epochs[0], [m for m, _ in stats], [s for _, s in stats]


def xi_label(xi: float) -> str:
    """The arm name of surrogate strength ξ in the Fig. 2 notebook: "xi=<ξ:g>"."""
    return f"xi={xi:g}"


def fig2_epoch_curves(results: dict[str, dict], xis: list[float], reps: int) -> dict[str, tuple]:
    """Paper 002 Fig. 2: test clean and PGD accuracy (%) by epoch, mean ± sd over the `reps`
    runs of each ξ (history_band of test_clean_acc / test_robust_acc).
    Returns {"ξ=<ξ> clean": (epochs, mean, sd), "ξ=<ξ> PGD": ...}."""
    curves = {}
    for kind, key in (("clean", "test_clean_acc"), ("PGD", "test_robust_acc")):
        for xi in xis:
            runs = [results[n]["history"] for n in run_names(xi_label(xi), reps)]
            curves[f"ξ={xi:g} {kind}"] = history_band(runs, key)
    return curves


def eps_band(per_run: list[list[dict]], key: str = "robust_acc", scale: float = 100.0) -> tuple[list, list, list]:
    """Mean ± sample sd over runs of accuracy_vs_eps rows: (ε grid, [mean_k], [sd_k]) of
    scale·row[k][key]. All runs must share the ε grid."""
    grids = [[row["eps"] for row in run] for run in per_run]
    if not per_run or any(g != grids[0] for g in grids):
        raise ValueError(f"the runs were attacked at different ε: {grids}")
    stats = [mean_std([scale * run[k][key] for run in per_run]) for k in range(len(grids[0]))]
    return grids[0], [m for m, _ in stats], [s for _, s in stats]


def fig2_eps_curves(arms: dict[str, TrainConfig], xis: list[float], reps: int, test_eps: list[float]) -> dict:
    """Accuracy (%) under PGD against the attack level ε, best checkpoints, mean ± sd over the
    runs of each ξ: {"ξ=<ξ> PGD": (test_eps, mean, sd)} (accuracy_vs_eps, then eps_band)."""
    return {f"ξ={xi:g} PGD": eps_band([accuracy_vs_eps(arms[n], test_eps) for n in run_names(xi_label(xi), reps)])
            for xi in xis}


def xi_summary(per_xi: dict[str, dict], xis: list[float]) -> dict[str, dict]:
    """{"<ξ:g>": {"std_acc": (mean, sd), "adv_acc": (mean, sd)}} from arm_summary rows keyed by
    xi_label(ξ): the final numbers of Fig. 2 (paper: sd 0.458 / 0.321 with ξ = 1e-3)."""
    return {f"{xi:g}": {k: (per_xi[xi_label(xi)][k], per_xi[xi_label(xi)][k.replace("acc", "sd")])
                        for k in ("std_acc", "adv_acc")} for xi in xis}


def checkpoint_results(checkpoint: str, base: dict, smoke: bool) -> dict:
    """Paper 000's measurements on a robust model researchers already have, without training: a
    RobustBench-layout WideResNet-depth-widen_factor state dict (WideResNet.from_robustbench)
    evaluated as the trainer evaluates its best checkpoint: clean and PGD-eval_steps accuracy and
    loss, the gap and its first-order regulariser on the test set (test_subset), and AutoAttack
    (autoattack, autoattack_version, autoattack_subset). `base`: TrainConfig fields (depth,
    widen_factor, data_dir, norm, eps, ...; smoke mode's evaluation settings SMOKE_EVAL on top).
    Returns a dict shaped like the trainer's results (config, final, history [], best_epoch
    None, cost None)."""
    from ..gpu.evaluate import autoattack_accuracy
    from ..models.wrn import WideResNet

    config = TrainConfig(**{**base, **(SMOKE_EVAL if smoke else {})})
    device = pick_device(config.device)
    model = WideResNet.from_robustbench(checkpoint, config.depth, config.widen_factor).to(device)
    x, y = load_split(config.data_dir, "test", config.test_subset, device)
    gen = torch.Generator(device=device).manual_seed(config.seed + 12345)
    final = evaluate(model, x, y, config.eps, config.norm, config.eval_steps, generator=gen)
    final["autoattack_acc"], final["autoattack_n"] = None, 0
    if config.autoattack:
        k = config.autoattack_subset or len(x)
        final["autoattack_acc"] = autoattack_accuracy(model, x[:k], y[:k], config.eps, config.norm,
                                                      version=config.autoattack_version)
        final["autoattack_n"] = 0 if final["autoattack_acc"] is None else len(y[:k])
    return {"config": {**config.to_dict(), "checkpoint": str(checkpoint)}, "history": [], "best_epoch": None,
            "final": final, "cost": None}
