"""Slider-to-figure latency of notebook 01 (no browser): the time from setting a slider's
.value (which fires the ipywidgets observer, as a drag does) to the FigureWidget updated.

    python benchmarks/slider_latency.py [--repeats 3]

Prints p50/p95 per slider over a sweep of values and overall; target p95 <= 50 ms on 2 cores.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from advexplore.widgets.linear_adversarial_risk import LinearRiskExplorer

SWEEPS = {
    "eps": np.linspace(0.0, 4.0, 41),
    "xi": np.geomspace(1e-3, 3.0, 30),
    "sigma2": np.linspace(0.1, 4.0, 30),
    "d": np.arange(1, 101, 4),
    "theta0_norm": np.linspace(0.5, 6.0, 30),
    "norm": ["L∞ (eq. 9)", "L2 (eq. 5)"] * 10,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    explorer = LinearRiskExplorer()
    every = []
    print(f"{'slider':<12} {'moves':>5} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in SWEEPS.items():
        control, times = explorer.controls[name], []
        for _ in range(args.repeats):
            for value in values:
                value = value if isinstance(value, str) else type(control.value)(value)
                if value == control.value:
                    continue
                start = time.perf_counter()
                control.value = value  # observer -> compute -> batch_update of the FigureWidget
                times.append((time.perf_counter() - start) * 1e3)
        every += times
        print(f"{name:<12} {len(times):>5} {np.percentile(times, 50):8.1f} {np.percentile(times, 95):8.1f}")
    p95 = np.percentile(every, 95)
    print(f"{'all':<12} {len(every):>5} {np.percentile(every, 50):8.1f} {p95:8.1f}   "
          f"(target p95 <= 50 ms: {'met' if p95 <= 50 else 'NOT met'})")


if __name__ == "__main__":
    main()
