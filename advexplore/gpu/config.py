"""One dataclass holds every knob of an adversarial-training run (notebooks, CLI and torchrun
workers all build the same TrainConfig), with the paper's schedules as methods."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from .._validate import check_norm
from ..models.wrn import check_frozen_parts, check_wrn_activation

METHODS = ("pgd", "clean", "grad_norm")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """A run of PGD adversarial training (Madry et al.) of a WideResNet on CIFAR-10.

    Data: data_dir (CIFAR-10 python batches), train_subset/test_subset (0 = all images),
    eval_subset (test images attacked after each epoch to pick the best checkpoint).
    Model: depth, widen_factor (34, 10 = WRN-34-10), activation ("relu", "relu_softplus" =
    ReLU forward / Softplus(β) backward, "softplus"), beta, frozen parts (paper 000).
    Objective: method "pgd" (train on x + δ_PGD), "clean" (standard training) or "grad_norm"
    (the first-order regularised surrogate l(x) + ε‖∇ₓl‖_*, one double backward: paper 000's
    "regularised risk", no attack); norm "l2"/"linf", eps, steps, step_size (None: 2.5ε/steps),
    xi (surrogate ξ of paper 002, ×gamma at each lr drop, Fig. 2), lasso λ (λ Σ|w| over conv and
    linear weights; 1e-5 in Tables 1–2).
    Optimiser: SGD(lr, momentum, weight_decay), lr ×gamma at the epochs round(m·epochs) for m in
    milestones (fractions; (0.75, 0.9) with 100 epochs = epochs 75 and 90 as in Fig. 2);
    batch_size is the GLOBAL batch (split over torchrun processes).
    Speed: precision "auto" (bf16 autocast on CUDA, fp32 on CPU), channels_last, compile
    (torch.compile), device "auto"|"cpu"|"cuda". Evaluation: eval_steps (PGD-20), eval_every,
    autoattack (when the `attacks` extra is installed). Run: out_dir (checkpoints, metrics.jsonl,
    results.json), resume (continue from out_dir/last.pt), seed, progress (tqdm bars).
    """

    data_dir: str = ""
    out_dir: str = "runs/wrn"
    train_subset: int = 0
    test_subset: int = 0
    eval_subset: int = 1000
    depth: int = 34
    widen_factor: int = 10
    activation: str = "relu"
    beta: float = 10.0
    frozen: tuple = ()
    method: str = "pgd"
    norm: str = "l2"
    eps: float = 0.5
    steps: int = 10
    step_size: float | None = None
    xi: float = 0.0
    lasso: float = 0.0
    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple = (0.75, 0.9)
    gamma: float = 0.1
    augment: bool = True
    eval_steps: int = 20
    eval_every: int = 1
    autoattack: bool = True
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    resume: bool = True
    progress: bool = True
    extra: dict = field(default_factory=dict)  # free-form labels (arm name, repetition)

    def __post_init__(self):
        self.frozen = tuple(self.frozen)
        self.milestones = tuple(float(m) for m in self.milestones)
        self.norm = check_norm(self.norm)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        for name in ("epochs", "batch_size", "steps", "eval_steps", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("train_subset", "test_subset", "eval_subset"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int ≥ 0 (0 = all), got {value!r}")
        for name in ("eps", "xi", "lasso", "lr", "momentum", "weight_decay", "gamma", "beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not value >= 0:
                raise ValueError(f"{name} must be ≥ 0, got {value!r}")
        check_wrn_activation(self.activation)   # the model's own checks, before a torchrun job starts
        check_frozen_parts(self.frozen)
        if self.step_size is not None and not float(self.step_size) > 0:
            raise ValueError(f"step_size must be > 0 or None (2.5·eps/steps), got {self.step_size!r}")
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions of the epochs in (0, 1), got {self.milestones}")

    @property
    def alpha(self) -> float:
        """PGD step size α (default 2.5ε/steps, Madry et al.)."""
        return float(self.step_size) if self.step_size is not None else 2.5 * self.eps / self.steps

    def milestone_epochs(self) -> list[int]:
        """Epochs (0-based, counted after the epoch ends) at which lr and ξ are multiplied by gamma."""
        return sorted({max(1, round(m * self.epochs)) for m in self.milestones})

    def xi_at(self, epoch: int) -> float:
        """ξ during `epoch` (0-based): xi · gamma^(lr drops before it) (paper 002, Fig. 2)."""
        drops = sum(epoch >= m for m in self.milestone_epochs())
        return self.xi * self.gamma ** drops

    def lr_at(self, epoch: int) -> float:
        drops = sum(epoch >= m for m in self.milestone_epochs())
        return self.lr * self.gamma ** drops

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["frozen"], d["milestones"] = list(self.frozen), list(self.milestones)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**values)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
