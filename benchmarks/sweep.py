"""Batched linear sweep vs a Python loop of single adversarial_train runs (F3-like setting).

    python benchmarks/sweep.py [--reps 20] [--steps 300] [--repeat 2] [--threads 1]

Both are timed side by side in one run on the same data (alternating, fastest of --repeat
timings each); prints the speed-up (goal ≥ 10×) and checks that both give the same final θ.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from advexplore import adversarial_train, gaussian_data, linear_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2, help="alternating timings; the fastest of each is kept")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for BOTH sides (on a busy 2-core machine 2 threads make the "
                             "batched products wait on each other: 0.3 s quiet, 3-15 s loaded)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d, n, eps_grid, xi = args.d, args.n, [0.0, 0.01, 0.1], 0.5
    theta0 = torch.zeros(d, dtype=torch.float64)
    theta0[:10] = 1
    g = torch.Generator().manual_seed(0)
    x, y = map(torch.stack, zip(*[gaussian_data(n, theta0, generator=g) for _ in range(args.reps)]))

    def batched_run():
        return linear_sweep(x, y, theta0, eps=eps_grid, xi=xi, lr=0.001, steps=args.steps)

    def looped_run():
        worst = 0.0
        for s in range(args.reps):
            for i, eps in enumerate(eps_grid):
                net = nn.Linear(d, 1, bias=False).double()
                nn.init.zeros_(net.weight)
                adversarial_train(net, x[s], y[s], eps=eps, xi=xi, lr=0.001, steps=args.steps)
                worst = max(worst, (net.weight[0] - out["theta"][s, i, 0, 0]).abs().max().item())
        return worst

    out = batched_run()  # warm-up (first-call allocations), not timed
    # The machine is shared: alternate the two and keep each one's fastest time, so a burst of
    # someone else's load during one measurement does not decide the ratio.
    batched, looped = float("inf"), float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        out = batched_run()
        batched = min(batched, time.perf_counter() - start)
        start = time.perf_counter()
        worst = looped_run()
        looped = min(looped, time.perf_counter() - start)

    runs = args.reps * len(eps_grid)
    print(f"{runs} runs of {args.steps} steps, n={n}, d={d} (F3 setting, {torch.get_num_threads()} threads)")
    print(f"python loop of adversarial_train: {looped:8.2f} s  (fastest of {args.repeat})")
    print(f"batched linear_sweep:             {batched:8.2f} s  (fastest of {args.repeat})")
    print(f"speed-up: {looped / batched:.1f}x   (goal >= 10x; max |Δθ| = {worst:.1e})")


if __name__ == "__main__":
    main()
