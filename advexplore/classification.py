"""Classification pieces shared by the real-data notebooks (09, 10): a per-sample
cross-entropy for the attacks/training contract, a ReLU classifier on images, accuracies
and a thin wrapper of Algorithm 1 (`adversarial_train`) with PGD as the inner attack."""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_batch, check_nonnegative, check_norm, check_positive_int
from .attacks import ascent_direction, clip_perturbation
from .pgd import pgd_attack, project_to_ball, random_ball_point
from .training import TrainHistory, adversarial_train

UNIT_BOX = (0.0, 1.0)  # valid pixel range of every image task in advexplore.data


def cross_entropy_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample l(f(x), y) = −log softmax(f(x))_y; logits (n, k), y (n,) int64 -> (n,).
    Pass as `loss=` to surrogate_attack, pgd_attack and adversarial_train."""
    if logits.dim() != 2 or y.dim() != 1 or y.dtype != torch.int64:
        raise ValueError(f"cross_entropy_loss needs logits (n, k) and int64 labels (n,), got "
                         f"{tuple(logits.shape)} and {tuple(y.shape)} {y.dtype}")
    return F.cross_entropy(logits, y, reduction="none")


def relu_classifier(in_shape, classes: int, hidden: int = 1024, depth: int = 1,
                    generator: torch.Generator | None = None) -> nn.Sequential:
    """Flatten → (Linear → ReLU) × depth → Linear to `classes` logits. depth = 1, hidden = 1024
    is the two-layer network of paper 002 Fig. 4. Initialised with PyTorch's default rule,
    drawn from `generator` when given (reproducible repetitions)."""
    d = int(torch.Size(in_shape).numel())
    hidden = check_positive_int(hidden, "hidden")
    depth = check_positive_int(depth, "depth")
    classes = check_positive_int(classes, "classes", minimum=2)
    sizes = [d] + [hidden] * depth
    layers: list[nn.Module] = [nn.Flatten()]
    for i, o in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(i, o), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], classes))
    net = nn.Sequential(*layers)
    if generator is not None:
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    bound = 1.0 / m.in_features ** 0.5  # PyTorch's default U(−1/√fan_in, 1/√fan_in)
                    m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
                    m.bias.copy_((torch.rand(m.bias.shape, generator=generator) * 2 - 1) * bound)
    return net


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(n,) predicted labels argmax f(x)."""
    return model(x).argmax(dim=1)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Standard accuracy (1/n) Σ 1[argmax f(x_i) = y_i]."""
    check_batch(model, x, y)
    return (predict(model, x) == y).float().mean().item()


ATTACKS = ("pgd", "autoattack")


def adversarial_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2",
                         steps: int = 20, restarts: int = 1, clip=UNIT_BOX,
                         generator: torch.Generator | None = None, attack: str = "pgd") -> float:
    """Robust accuracy (1/n) Σ_i 1[argmax f(x_i + δ) = y_i for every δ the attack tried], δ in the
    ε-ball, inputs kept in `clip`. attack="pgd": `robust_correct` (PGD-`steps` on the
    cross-entropy, `restarts` batched restarts, a sample is broken as soon as ANY evaluated
    iterate misclassifies it); attack="autoattack": `autoattack_correct` (AutoAttack from the
    optional ART package, Croce & Hein 2020). A sample counts only if it is right both clean and
    attacked (δ = 0 is in the ball), so the value never exceeds the standard accuracy; an attack
    can miss errors, so either value is an UPPER bound on the true robust accuracy (AutoAttack's
    usually the tighter one)."""
    check_batch(model, x, y)
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if float(check_nonnegative(eps, "eps")) == 0:
        return accuracy(model, x, y)
    if attack == "autoattack":
        return autoattack_correct(model, x, y, eps, norm=norm, clip=clip).float().mean().item()
    return robust_correct(model, x, y, eps, norm=norm, steps=steps, restarts=restarts, clip=clip,
                          generator=generator).float().mean().item()


def robust_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", steps: int = 20,
                   restarts: int = 1, step_size=None, clip=UNIT_BOX, generator: torch.Generator | None = None,
                   drop_broken: bool = True) -> torch.Tensor:
    """(n,) bool: sample i is classified right at x_i and at every PGD iterate x_i + δ evaluated.

    PGD ascends the cross-entropy, δ ← Π_ε(δ + α u(∇_δ l)), u = g/‖g‖₂ (L2) or sign(g) (L∞),
    α = 2.5ε/steps by default, as `pgd_attack`. Restart 0 starts at δ = 0, the others at uniform
    random points of the ball. Differences from `pgd_attack`, all for speed at equal strength:
    - the restarts run as ONE batch of restarts·n samples (one forward/backward per step,
      not one per restart);
    - a sample counts as broken as soon as ANY iterate misclassifies it (the convention of
      robustness evaluations; keeping only the highest-loss iterate, as `pgd_attack` returns it,
      can miss iterates that misclassify with a lower loss and overstate robust accuracy);
    - with drop_broken (default) a broken sample leaves the batch, so later steps cost only
      what is still robust. Setting it False gives the same answer (a broken sample stays
      broken), at full cost.
    """
    norm = check_norm(norm)
    steps = check_positive_int(steps, "steps")
    restarts = check_positive_int(restarts, "restarts")
    eps_t = check_nonnegative(eps, "eps", dtype=x.dtype, device=x.device)
    if eps_t.dim() != 0:
        raise ValueError("eps must be a single number for robust_correct")
    alpha = 2.5 * eps_t / steps if step_size is None else check_nonnegative(step_size, "step_size", dtype=x.dtype,
                                                                             device=x.device)
    n = x.shape[0]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            correct = predict(model, x) == y
        xs = x.detach().repeat(restarts, *([1] * (x.dim() - 1)))
        ys = y.repeat(restarts)
        owner = torch.arange(n, device=x.device).repeat(restarts)
        delta = random_ball_point(xs, eps_t, norm, generator)
        delta[:n] = 0  # restart 0 from the clean input
        delta = clip_perturbation(xs, delta, clip)
        active = correct[owner].nonzero().squeeze(1)  # rows whose sample is still unbroken
        broken = ~correct
        for step in range(steps + 1):
            if drop_broken:
                active = active[~broken[owner[active]]]
            if active.numel() == 0:
                break
            xa, da, ya = xs[active], delta[active].requires_grad_(True), ys[active]
            with torch.enable_grad():
                logits = model(xa + da)
                loss = F.cross_entropy(logits, ya, reduction="sum")
                grad = torch.autograd.grad(loss, da)[0] if step < steps else None
            broken[owner[active[logits.detach().argmax(1) != ya]]] = True
            if grad is None:
                break
            step_to = project_to_ball(da.detach() + alpha * ascent_direction(grad, norm), eps_t, norm)
            delta[active] = clip_perturbation(xa, step_to, clip)
    finally:
        model.train(was_training)
    return ~broken


def _square_fits(x: torch.Tensor, p_init: float = 0.8) -> bool:
    """ART's Square attack needs images whose side exceeds its first (odd) square, side
    max(round(√(p_init·H·W)), 3) rounded up to odd."""
    if x.dim() != 4:
        return False
    h, w = x.shape[-2:]
    side = max(int(round((p_init * h * w) ** 0.5)), 3)
    side += 1 - side % 2
    return h > side and w > side


def autoattack_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", clip=UNIT_BOX,
                       batch_size: int = 256, version: str = "standard",
                       square_queries: int = 5000) -> torch.Tensor:
    """(n,) bool: sample i is classified right at x_i and at the adversarial example AutoAttack
    (Croce & Hein, ICML 2020) found for it, from the Adversarial Robustness Toolbox (ART,
    `pip install adversarial-robustness-toolbox`, the `attacks` extra; see the README for a
    torch-safe install). version="standard": the ensemble of ART's AutoAttack — APGD-CE and
    APGD-DLR (100 steps, 5 restarts each; DLR needs ≥ 3 classes, so binary tasks skip it),
    DeepFool and Square (images (n, C, H, W) large enough for its first square, e.g. 8 × 8; `square_queries`
    = 5000 queries, one restart as in the original standard version); a sample
    is broken when any of them breaks it within the ball (each candidate is projected onto the ball
    and re-checked here, so a DeepFool step beyond ε never counts).
    version="fast": APGD-CE alone. An ImportError says how to install ART."""
    try:
        from art.attacks.evasion import AutoAttack, AutoProjectedGradientDescent, DeepFool, SquareAttack
        from art.estimators.classification import PyTorchClassifier
    except ImportError as err:
        raise ImportError("attack='autoattack' needs the Adversarial Robustness Toolbox: pip install "
                          "'advexplore[attacks]' (or adversarial-robustness-toolbox) with torch pinned, "
                          "see the README") from err
    import numpy as np

    if version not in ("standard", "fast"):
        raise ValueError(f"version must be 'standard' or 'fast', got {version!r}")
    norm = check_norm(norm)
    eps = float(check_nonnegative(eps, "eps"))
    square_queries = check_positive_int(square_queries, "square_queries")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            classes = int(model(x[:1]).shape[1])
            clean = predict(model, x) == y
        # Without a valid input range, a box that no point of the ε-ball leaves (ART's Square and
        # DeepFool need one; |δ_i| ≤ ε in both norms).
        low, high = clip if clip is not None else (float(x.min()) - eps, float(x.max()) + eps)
        estimator = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                                      nb_classes=classes, clip_values=(low, high),
                                      device_type="gpu" if x.is_cuda else "cpu")
        art_norm = 2 if norm == "l2" else np.inf
        apgd = dict(estimator=estimator, norm=art_norm, eps=eps, eps_step=2 * eps / 10, max_iter=100,
                    nb_random_init=5, batch_size=batch_size, verbose=False)
        attacks = [AutoProjectedGradientDescent(loss_type="cross_entropy", **apgd)]
        if version == "standard":
            if classes >= 3:  # the DLR loss is defined for three classes or more
                attacks.append(AutoProjectedGradientDescent(loss_type="difference_logits_ratio", **apgd))
            attacks.append(DeepFool(classifier=estimator, max_iter=100, epsilon=1e-3, nb_grads=min(10, classes),
                                    batch_size=batch_size, verbose=False))
            if _square_fits(x):
                attacks.append(SquareAttack(estimator=estimator, norm=art_norm, max_iter=square_queries, eps=eps, p_init=0.8,
                                            nb_restarts=1, batch_size=batch_size, verbose=False))
        adversary = AutoAttack(estimator, norm=art_norm, eps=eps, eps_step=2 * eps / 10, batch_size=batch_size,
                               attacks=attacks)
        x_np, y_np = x.detach().cpu().numpy(), y.detach().cpu().numpy()
        x_adv = torch.from_numpy(adversary.generate(x=x_np, y=y_np)).to(x.device, x.dtype)
        # ART keeps a candidate only inside the ball up to rounding; project to be exact
        x_adv = x + project_to_ball(x_adv - x, torch.tensor(eps, dtype=x.dtype, device=x.device), norm)
        with torch.no_grad():
            attacked = torch.cat([predict(model, x_adv[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)
    return clean & (attacked == y)


def _no_attack(model, x, y, eps, **_) -> torch.Tensor:
    return torch.zeros_like(x)


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps=0.0, norm="l2",
                     epochs: int = 100, lr: float = 0.1, l1: float = 0.0, xi: float = 0.0,
                     attack_steps: int = 10, batch_size: int | None = None, clip=UNIT_BOX,
                     generator: torch.Generator | None = None, progress: bool = False) -> TrainHistory:
    """Algorithm 1 of paper 002 on a classifier: cross-entropy, PGD(`attack_steps`) inner attack
    in the ε-ball (ε = 0: standard training), LASSO λ = l1 by the proximal step, plain SGD.
    `epochs` passes over the data: steps = epochs·⌈n / batch_size⌉ (full batch when None)."""
    check_norm(norm)
    epochs = check_positive_int(epochs, "epochs")
    n = x.shape[0]
    per_epoch = 1 if batch_size is None else -(-n // batch_size)
    attack = partial(pgd_attack, steps=check_positive_int(attack_steps, "attack_steps"), generator=generator)
    if float(check_nonnegative(eps, "eps")) == 0:
        attack = _no_attack  # standard training: skip PGD's passes
    return adversarial_train(model, x, y, eps=eps, xi=xi, norm=norm, lr=lr, steps=epochs * per_epoch,
                             l1=l1, loss=cross_entropy_loss, attack=attack, clip=clip,
                             batch_size=batch_size, generator=generator, progress=progress)


AUTOATTACK_MODES = ("off", "fast", "standard")


def robust_accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, norm="l2", steps: int = 20,
                      autoattack: str = "fast", clip=UNIT_BOX, generator: torch.Generator | None = None,
                      batch_size: int = 256) -> dict:
    """Both attack-based robust accuracies of one model at one ε, with the per-sample correctness
    behind them (the notebooks 09 and 10 report them side by side):
    `clean` (n,) bool, right at x_i; `pgd` (n,) bool, robust_correct with PGD-`steps` (one start, δ = 0);
    `autoattack` (n,) bool, autoattack_correct with version `autoattack` ("fast": APGD-CE,
    "standard": the full ensemble; "off": None); `both` = pgd & autoattack (a sample either attack
    breaks is not robust, so this is the tightest of the three); and their means
    `standard_accuracy`, `pgd_accuracy`, `autoattack_accuracy`, `combined_accuracy` (None when off).
    Every robust accuracy is an UPPER bound on the true one and at most the standard accuracy;
    the lower of PGD and AutoAttack is the tighter (usually AutoAttack's). At ε = 0 no attack runs;
    AutoAttack attacks only the samples right when clean (the others count as broken anyway)."""
    check_batch(model, x, y)
    if autoattack not in AUTOATTACK_MODES:
        raise ValueError(f"autoattack must be one of {AUTOATTACK_MODES}, got {autoattack!r}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            clean = predict(model, x) == y
    finally:
        model.train(was_training)
    if float(check_nonnegative(eps, "eps")) == 0:
        pgd, aa = clean, (None if autoattack == "off" else clean)
    else:
        pgd = robust_correct(model, x, y, eps, norm=norm, steps=steps, clip=clip, generator=generator)
        aa = None if autoattack == "off" else clean.clone()
        if aa is not None and clean.any():  # a wrong clean answer is not robust: attack only the right ones
            aa[clean] = autoattack_correct(model, x[clean], y[clean], eps, norm=norm, clip=clip,
                                           batch_size=batch_size, version=autoattack)
    both = pgd if aa is None else pgd & aa
    mean = lambda c: None if c is None else c.float().mean().item()  # noqa: E731
    return {"clean": clean, "pgd": pgd, "autoattack": aa, "both": both,
            "standard_accuracy": mean(clean), "pgd_accuracy": mean(pgd), "autoattack_accuracy": mean(aa),
            "combined_accuracy": mean(both) if aa is not None else None}
