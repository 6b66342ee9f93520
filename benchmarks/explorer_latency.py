"""Slider-to-figure latency of the adversarial-vs-regularised explorer (notebook 06).

Times `AdversarialExplorer.update(**values)` — the slider callback, which recomputes what
changed and writes the FigureWidget inside one batch_update — at the largest sizes the
issue promises to keep live: width ≤ 256, depth ≤ 4, n ≤ 500, on 2 CPU threads.
Architecture/data moves are timed uncached (a fresh setting each time).

Usage:  python benchmarks/explorer_latency.py [--repeats 20] [--threads 2]
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from advexplore.widgets.adversarial_vs_regularized import build_explorer


def percentile_ms(samples, q):
    return 1000 * float(np.percentile(samples, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    explorer = build_explorer(width=256, depth=4, n=500, d=2)
    grid = explorer.eps_grid.tolist()
    moves = {
        "eps (cached curves)": lambda i: dict(eps=rng.choice(grid)),
        "xi (one forward pass)": lambda i: dict(xi=round(rng.uniform(0, 2), 2)),
        # uncached: a new seed makes every setting new; sizes at the promised maxima
        "width (refit, uncached)": lambda i: dict(width=rng.choice([128, 192, 256]), seed=1000 + i),
        "depth (refit, uncached)": lambda i: dict(depth=rng.choice([2, 3, 4]), width=256, seed=2000 + i),
        "n (refit, uncached)": lambda i: dict(n=rng.choice([300, 400, 500]), width=256, depth=4, seed=3000 + i),
    }
    print(f"explorer latency, {args.threads} threads, width 256, depth 4, n 500, d 2, "
          f"{args.repeats} moves per slider")
    print(f"{'slider':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    worst = 0.0
    for name, make in moves.items():
        explorer.update(width=256, depth=4, n=500, d=2, seed=0, eps=grid[3], xi=0.0)
        times = []
        for i in range(args.repeats):
            values = make(i)
            start = time.perf_counter()
            explorer.update(**values)
            times.append(time.perf_counter() - start)
        p95 = percentile_ms(times, 95)
        worst = max(worst, p95)
        print(f"{name:28s} {percentile_ms(times, 50):8.1f} {p95:8.1f} {1000 * max(times):8.1f}")
    print(f"worst p95: {worst:.0f} ms ({'within' if worst <= 1000 else 'OVER'} the 1 s target)")


if __name__ == "__main__":
    main()
