"""Notebook parameters as the command line sees them: find a notebook by name, read the types its
`parameters` cell declares (`eps: float = 1.0`), parse command-line strings with them and check
their ranges (RANGES below), so an unknown name, an unparsable value or a value out of range
(`-p d 0`) is rejected before a kernel starts."""
from __future__ import annotations

import ast
import math
from pathlib import Path

from ..experiments.adversarial_vs_regularized_data import TARGETS
from .run_notebooks import NOTEBOOK_DIR, cpu_notebooks

# Set by the runner itself; a user never passes them.
RESERVED = ("interactive", "results_path")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class ParameterError(ValueError):
    """A parameter name or value the notebook does not accept (message names both)."""


def _finite(test):
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and test(v)


COUNT = (_finite(lambda v: v >= 1 and v == int(v)), "an integer >= 1")
NONNEGATIVE = (_finite(lambda v: v >= 0), "a finite number >= 0")
POSITIVE = (_finite(lambda v: v > 0), "a finite number > 0")
# Value ranges by parameter name: the notebooks give one name one meaning (d a dimension, eps a
# radius, ...). A list value is checked element by element. NOTEBOOK_RANGES refines a name for
# the notebooks whose stem starts with the key. Parameters without a rule are only type-checked.
RANGES = {
    **{name: COUNT for name in (
        "d", "n", "s", "steps", "reps", "width", "hidden", "epochs", "attack_steps", "eval_steps", "n_test",
        "batch_size", "train_steps", "bisections", "lipschitz_samples", "threads", "hd_n", "hd_d", "hd_s", "hd_h",
        "hd_steps", "hd_reps", "devices", "smoke_epochs", "smoke_reps", "widen_factor", "ns", "n_values",
        "h_values", "widths", "n_grid", "bracket_n")},
    **{name: NONNEGATIVE for name in (
        "eps", "xi", "sigma2", "theta0_norm", "lam_scale", "eps_mnist", "hd_eps", "hd_xi", "lasso", "depth",
        "eps_values", "eps_grid", "xis", "test_eps", "lambdas", "bracket_eps")},
    **{name: POSITIVE for name in ("lr", "train_lr", "hd_lr", "beta")},
    "threshold_fraction": (_finite(lambda v: 0 < v < 1), "a number in (0, 1)"),
    "norm": (lambda v: v in ("l2", "linf"), "'l2' or 'linf'"),
    "precision": (lambda v: v in ("auto", "fp32", "bf16", "fp16"), "one of 'auto', 'fp32', 'bf16', 'fp16'"),
    "classes": (lambda v: isinstance(v, int) and 0 <= v <= 9, "digits 0..9"),
    "target": (lambda v: v in TARGETS, "one of " + ", ".join(repr(t) for t in TARGETS)),
}
WRN_DEPTH = (lambda v: isinstance(v, int) and v >= 10 and (v - 4) % 6 == 0, "6n + 4 with n >= 1 (10, 16, 22, 28, 34)")
RANGES["wrn_depth"] = WRN_DEPTH  # notebook 10's checkpoints
# the CPU notebooks' AutoAttack beside PGD (the GPU notebooks' `autoattack` is a bool)
AUTOATTACK = (lambda v: v in ("off", "fast", "standard"), "one of 'off', 'fast', 'standard'")
NOTEBOOK_RANGES = {
    "09_": {"autoattack": AUTOATTACK},
    "10_": {"depth": COUNT, "autoattack": AUTOATTACK},  # depth: hidden layers (notebook 06 allows 0: the linear model)
    **{stem: {"depth": WRN_DEPTH} for stem in ("fig2_", "gap_wrn", "tables_lasso")},  # notebooks/gpu: WideResNet depth
}


def check_range(notebook: Path, name: str, value):
    """value if it is in the range RANGES / NOTEBOOK_RANGES give `name` (each element of a list);
    ParameterError naming the parameter, the notebook, the range and the value otherwise."""
    rule = RANGES.get(name)
    for prefix, rules in NOTEBOOK_RANGES.items():
        if Path(notebook).stem.startswith(prefix) and name in rules:
            rule = rules[name]
    if rule is None:
        return value
    test, text = rule
    for v in (value if isinstance(value, (list, tuple)) else [value]):
        if not test(v):
            where = f" (in {value!r})" if isinstance(value, (list, tuple)) else ""
            raise ParameterError(f"parameter {name!r} of {Path(notebook).name} must be {text}, got {v!r}{where}")
    return value


def list_notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The repository's NN_*.ipynb (run_notebooks.cpu_notebooks); any *.ipynb in another --dir."""
    directory = Path(directory)
    if directory.resolve() == NOTEBOOK_DIR.resolve():
        return cpu_notebooks(directory)
    return sorted(directory.glob("*.ipynb"))


def resolve_notebook(name: str, directory: Path = NOTEBOOK_DIR) -> Path:
    """A path, a file name, a stem or a number prefix ("01") -> the notebook's path."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    candidates = list_notebooks(directory)
    for nb in candidates:
        if name in (nb.name, nb.stem):
            return nb
    prefixed = [nb for nb in candidates if nb.name.startswith(name)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise SystemExit(f"advexplore: no single notebook matches {name!r}; "
                     f"available: {', '.join(nb.stem for nb in candidates)}")


def notebook_parameters(notebook: Path) -> dict[str, dict]:
    """{name: {"type": "float", "default": "1.0", "help": ...}} from the `parameters` cell."""
    import papermill as pm

    spec = pm.inspect_notebook(str(notebook))
    return {name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
            for name, p in spec.items()}


def list_syntax(name: str) -> str:
    """How a list value is written on the command line (shown in errors and `advexplore list`)."""
    return f'a Python list: -p {name} "[30, 100]"; in a sweep: --grid "{name}=[30,100];[300]"'


def parse_value(name: str, text: str, type_name: str):
    """Parse a command-line string with the notebook's declared type; ParameterError if not."""
    def fail(why: str = ""):
        if not why and type_name in ("list", "tuple"):
            why = f" ({list_syntax(name)})"
        raise ParameterError(f"parameter {name!r} expects type {type_name}, got {text!r}{why}")

    t = (type_name or "").strip()
    try:
        if t == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            fail(" (use true/false)")
        if t == "int":
            return int(text)
        if t == "float":
            return float(text)
        if t == "str":
            return text
        if t in ("list", "dict", "tuple"):
            value = ast.literal_eval(text)
            if type(value).__name__ != t:
                fail()
            return value
    except (ValueError, SyntaxError):
        fail()
    # No (or an exotic) type hint: a Python literal if it is one, else the string.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def validate_parameters(notebook: Path, raw: dict[str, str]) -> dict:
    """Check names against the parameters cell and parse values; ParameterError on the first bad one."""
    declared = notebook_parameters(notebook)
    parsed = {}
    for name, text in raw.items():
        if name in RESERVED:
            raise ParameterError(f"parameter {name!r} is set by the runner; do not pass it")
        if name not in declared:
            choices = ", ".join(f"{k}: {v['type']}" for k, v in declared.items() if k not in RESERVED)
            raise ParameterError(f"unknown parameter {name!r} for {notebook.name}; it accepts: {choices}")
        parsed[name] = check_range(notebook, name, parse_value(name, text, declared[name]["type"]))
    return parsed


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """["eps=0.5,1", "d=5,10"] -> {"eps": ["0.5", "1"], "d": ["5", "10"]} (values still strings).

    A list-valued parameter takes `;` between values: --grid "ns=[10,20];[30,40]".
    """
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ParameterError(f"--grid expects key=v1,v2,..., got {item!r}")
        split = values.split(";") if values.lstrip().startswith("[") else values.split(",")
        grid[key.strip()] = [v.strip() for v in split]
    return grid


_TYPE_TESTS = {
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    bool: lambda v: isinstance(v, bool),
    str: lambda v: isinstance(v, str),
    list: lambda v: isinstance(v, list),
    dict: lambda v: isinstance(v, dict),
}


def check_parameters(namespace: dict, notebook: str) -> None:
    """The check a notebook runs right after its parameters cell (and papermill's injected one),
    so plain papermill refuses what `advexplore run` refuses: every parameter annotated in the
    parameters cell (`d: int = 10` puts int in the kernel's __annotations__; papermill's injected
    assignments carry none) must have its declared type and lie in its RANGES.

        check_parameters(globals(), "01_linear_adversarial_risk")

    Raises ParameterError naming the parameter, the expected type or range and the value."""
    for name, kind in dict(namespace.get("__annotations__", {})).items():
        if name not in namespace:
            continue
        value, test = namespace[name], _TYPE_TESTS.get(kind)
        if test is not None and not test(value):
            hint = f" ({list_syntax(name)})" if kind is list else ""
            raise ParameterError(f"parameter {name!r} of {notebook} expects type {kind.__name__}, got "
                                 f"{value!r} ({type(value).__name__}){hint}")
        check_range(Path(notebook), name, value)
