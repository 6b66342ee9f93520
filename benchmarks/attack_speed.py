"""Robust accuracy under PGD at equal strength: advexplore's robust_correct (restarts batched
into one forward/backward, broken samples dropped, any-iterate counting) against ART's PGD
(ProjectedGradientDescentPyTorch, restarts one after another) and against our own pgd_attack
(restarts one after another, best-loss iterate), on an adversarially trained digits classifier.

    python benchmarks/attack_speed.py [--restarts 5] [--steps 20] [--eps 1.0] [--norm l2] [--repeat 3]

Same ε, norm, steps, step size 2.5ε/steps and number of restarts for all three; timed side by side
in one run, alternating, fastest of --repeat rounds each. Prints seconds, robust accuracy and the
speed-up of ours over each (goal ≥ 1.5× over ART at 5 restarts with equal or lower accuracy).
ART is the optional `attacks` extra; without it only our two are timed.
"""
from __future__ import annotations

import argparse
import time

import torch

from advexplore.classification import (cross_entropy_loss, predict, relu_classifier, robust_correct,
                                       train_classifier)
from advexplore.data import load_digits
from advexplore.pgd import pgd_attack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eps", type=float, default=1.0)
    parser.add_argument("--norm", choices=("l2", "linf"), default="l2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load_digits()
    g = torch.Generator().manual_seed(0)
    net = relu_classifier(x.shape[1:], 10, hidden=256, generator=g)
    train_classifier(net, x[:1200], y[:1200], eps=args.eps, norm=args.norm, epochs=100, lr=0.5, attack_steps=5,
                     generator=g)
    net.eval()
    xt, yt = x[1200:], y[1200:]
    alpha = 2.5 * args.eps / args.steps
    clean = predict(net, xt) == yt

    def ours():
        return robust_correct(net, xt, yt, args.eps, norm=args.norm, steps=args.steps, restarts=args.restarts,
                              generator=torch.Generator().manual_seed(1)).float().mean().item()

    def ours_sequential():
        delta = pgd_attack(net, xt, yt, args.eps, norm=args.norm, steps=args.steps, restarts=args.restarts,
                           loss=cross_entropy_loss, clip=(0.0, 1.0), random_start=False,
                           generator=torch.Generator().manual_seed(1))
        return ((predict(net, xt + delta) == yt) & clean).float().mean().item()

    runs = {"advexplore robust_correct (batched)": ours, "advexplore pgd_attack (sequential)": ours_sequential}
    try:
        import numpy as np
        from art.attacks.evasion import ProjectedGradientDescentPyTorch
        from art.estimators.classification import PyTorchClassifier

        est = PyTorchClassifier(model=net, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(xt.shape[1:]),
                                nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")
        art_pgd = ProjectedGradientDescentPyTorch(est, norm=2 if args.norm == "l2" else np.inf, eps=args.eps,
                                                  eps_step=alpha, max_iter=args.steps, num_random_init=args.restarts,
                                                  batch_size=len(xt), verbose=False)

        def art():
            adv = torch.from_numpy(art_pgd.generate(x=xt.numpy(), y=yt.numpy()))
            return ((predict(net, adv) == yt) & clean).float().mean().item()
        runs["ART ProjectedGradientDescentPyTorch"] = art
    except ImportError:
        print("ART not installed (pip install 'advexplore[attacks]'): comparing our two only")

    best = {name: float("inf") for name in runs}
    acc = {}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            acc[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    ref = "advexplore robust_correct (batched)"
    print(f"digits, {len(xt)} test images, {args.norm} ε = {args.eps}, PGD-{args.steps} × {args.restarts} restarts, "
          f"{args.threads} thread(s); clean accuracy {clean.float().mean().item():.3f}")
    for name in runs:
        ratio = "" if name == ref else f"   ours is {best[name] / best[ref]:.2f}× faster"
        print(f"{name:<40} {best[name]:7.3f} s   robust accuracy {acc[name]:.3f}{ratio}")


if __name__ == "__main__":
    main()
