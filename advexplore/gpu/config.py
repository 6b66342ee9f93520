"""One dataclass holds every knob of an adversarial-training run (notebooks, CLI and torchrun
workers all build the same TrainConfig), with the paper's schedules as methods."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from .._validate import check_norm
from ..models.wrn import check_frozen_parts, check_wrn_activation, check_wrn_depth

METHODS = ("pgd", "clean", "grad_norm")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# the rule of every field (checked in __post_init__, so the CLI, notebooks and torchrun workers
# all refuse the same values with the same message)
_INT_MIN = {"epochs": 1, "batch_size": 1, "steps": 1, "eval_steps": 1, "eval_every": 1, "widen_factor": 1,
            "train_subset": 0, "test_subset": 0, "eval_subset": 0, "autoattack_subset": 0, "seed": 0}
AUTOATTACK_VERSIONS = ("standard", "fast")
_FLOAT_MIN = {"eps": 0, "xi": 0, "lasso": 0, "momentum": 0, "weight_decay": 0, "gamma": 0}
_POSITIVE = ("lr", "beta")
_BOOLS = ("augment", "autoattack", "channels_last", "compile", "resume", "progress")


class ConfigError(ValueError):
    """A TrainConfig field with a value it does not accept. .field names it; the message starts
    with it, e.g. "eps must be >= 0 (got -1.0)" (the CLI shows it as --eps ...)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message if message.startswith(field) else f"{field}: {message}")


class ConfigTypeError(ConfigError, TypeError):
    """A field of the wrong type (a TypeError and a ConfigError)."""


def _number(name: str, value, minimum: float, strict: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigTypeError(name, f"{name} must be a number (got {value!r})")
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise ConfigError(name, f"{name} must be a finite number {'>' if strict else '>='} {minimum:g} (got {value!r})")


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
    autoattack (when the `attacks` extra is installed), autoattack_version ("standard": the
    ensemble; "fast": APGD-CE alone), autoattack_subset (the first test images attacked; 0 = all). Run: out_dir (checkpoints, metrics.jsonl,
    results.json), resume (continue from out_dir/last.pt, only with the settings that wrote it:
    advexplore.gpu.resume.RESUMABLE lists those that may change), seed, progress (tqdm bars).
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
    autoattack_version: str = "standard"
    autoattack_subset: int = 0
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    seed: int = 0
    resume: bool = True
    progress: bool = True
    extra: dict = field(default_factory=dict)  # free-form labels (arm name, repetition)

    def __post_init__(self):
        """Check every field; ConfigError (a ValueError; ConfigTypeError also a TypeError) names it."""
        for name in ("data_dir", "out_dir"):
            if not isinstance(getattr(self, name), str):
                raise ConfigTypeError(name, f"{name} must be a string path (got {getattr(self, name)!r})")
        if not self.out_dir:
            raise ConfigError("out_dir", "out_dir must name a folder (got '')")
        for name in ("frozen", "milestones"):
            if isinstance(getattr(self, name), (str, bytes)) or not hasattr(getattr(self, name), "__iter__"):
                raise ConfigTypeError(name, f"{name} must be a list (got {getattr(self, name)!r})")
        self.frozen = tuple(self.frozen)
        for name, choices in (("method", METHODS), ("precision", PRECISIONS), ("autoattack_version", AUTOATTACK_VERSIONS)):
            if getattr(self, name) not in choices:
                raise ConfigError(name, f"{name} must be one of {choices} (got {getattr(self, name)!r})")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ConfigError("device", f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got {self.device!r})")
        for name, minimum in _INT_MIN.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                kind = ConfigError if isinstance(value, int) and not isinstance(value, bool) else ConfigTypeError
                raise kind(name, f"{name} must be an int >= {minimum}{' (0 = all)' if 'subset' in name else ''} "
                                 f"(got {value!r})")
        for name, minimum in _FLOAT_MIN.items():
            _number(name, getattr(self, name), minimum)
        for name in _POSITIVE:
            _number(name, getattr(self, name), 0, strict=True)
        if self.step_size is not None:
            _number("step_size", self.step_size, 0, strict=True)
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigTypeError(name, f"{name} must be true or false (got {getattr(self, name)!r})")
        if not isinstance(self.extra, dict):
            raise ConfigTypeError("extra", f"extra must be a dict of labels (got {self.extra!r})")
        # the model's own checks (norm, activation, depth, frozen parts), before a torchrun job starts
        for name, check in (("norm", check_norm), ("activation", check_wrn_activation), ("depth", check_wrn_depth),
                            ("frozen", check_frozen_parts)):
            try:
                check(getattr(self, name))
            except TypeError as err:
                raise ConfigTypeError(name, str(err)) from None
            except ValueError as err:
                raise ConfigError(name, str(err)) from None
        self.norm = check_norm(self.norm)
        try:
            self.milestones = tuple(float(m) for m in self.milestones)
        except (TypeError, ValueError):
            raise ConfigTypeError("milestones", f"milestones must be numbers (got {self.milestones!r})") from None
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ConfigError("milestones", f"milestones must be increasing fractions of the epochs in (0, 1) "
                                            f"(got {self.milestones})")

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
