"""Runtime and tightness of the bracket lower bound ≤ exact ≤ certified upper bounds on the inner
maximum (issue 14), as notebook 06's explorer would compute it: a ReLU MLP (default width 64,
depth 2) fitted to n = 200 explorer samples in d = 2, for L2 and L∞ and a few ε.

Prints, per (norm, ε), each method's wall time and its mean loss / mean exact loss, side by side
("exact" is the default method, the region enumeration in d ≤ 2; with --milp, L∞ rows also time
the MILP on the same samples). Nothing is asserted: timings depend on the machine.

Usage:  python benchmarks/bracket.py [--n 200] [--width 64] [--depth 2] [--eps 0.1 0.3 1.0]
                                     [--norms l2 linf] [--milp] [--threads 1]
"""
from __future__ import annotations

import argparse

import time

import torch

from advexplore.exact import exact_max_loss
from advexplore.experiments.adversarial_vs_regularized import (BRACKET, bracket_max_loss, explorer_data,
                                                               explorer_model, fit_standard)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    parser.add_argument("--norms", nargs="+", default=["l2", "linf"])
    parser.add_argument("--milp", action="store_true", help="also time exact_max_loss(method='milp') for L∞")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = explorer_data(args.n, args.d, seed=0)
    model = explorer_model(args.d, args.width, args.depth, seed=0)
    fit_standard(model, x, y, steps=200, lr=0.02)
    print(f"MLP width {args.width}, depth {args.depth}, d = {args.d}, n = {args.n}, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"{'norm':5} {'eps':>5} | " + " | ".join(f"{name:>17}" for name in BRACKET))
    print(f"{'':5} {'':>5} | " + " | ".join(f"{'seconds  ×exact':>17}" for _ in BRACKET))
    for norm in args.norms:
        for eps in args.eps:
            out = bracket_max_loss(model, x, y, eps, norm, generator=torch.Generator().manual_seed(0))
            cells = [f"{out['seconds'][name]:8.3f} {out['ratio'].get(name, float('nan')):8.3f}"
                     if name in out["seconds"] else f"{'—':>17}" for name in BRACKET]
            print(f"{norm:5} {eps:5.2f} | " + " | ".join(cells), flush=True)
            for name, why in out["skipped"].items():
                print(f"      {name} skipped: {why}")
            if args.milp and norm == "linf":
                start = time.perf_counter()
                try:
                    milp = exact_max_loss(model, x, y, eps, norm, method="milp")
                    agree = (milp - out["loss"]["exact"]).abs().max().item()
                    print(f"      exact by MILP: {time.perf_counter() - start:.3f} s "
                          f"(max |MILP − regions| = {agree:.1e})", flush=True)
                except (ValueError, RuntimeError) as refusal:  # too many unstable ReLUs, time limit
                    print(f"      MILP refused: {refusal}")


if __name__ == "__main__":
    main()
