"""Time the core lifecycle steps at scale: simulating data, preprocessing and an XGBoost fit.

Seconds depend on the machine, so each step is also reported as a ratio against a baseline
of comparable size measured in the same process: drawing the same number of rows of random
floats with NumPy and sorting them with pandas. A ratio that grows between two runs points
at our code, not at a slower machine.

usage: python bench/bench_core.py [--simulate-rows N] [--fit-rows N] [--repeat K] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import sklearn
import xgboost

from mlcycle_ref import data, models

BASELINE_COLUMNS = 20  # about as wide as the simulated campaign (22 columns)


def best_time(step: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs: the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline(n_rows: int, seed: int) -> pd.DataFrame:
    """Plain NumPy and pandas work on a table of ``n_rows`` rows: draw it, then sort it."""
    values = np.random.default_rng(seed).standard_normal((n_rows, BASELINE_COLUMNS))
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(BASELINE_COLUMNS)])
    return frame.sort_values("x0")


def measure(simulate_rows: int, fit_rows: int, repeat: int, seed: int) -> list[dict]:
    """Run every step and its baseline; one result row per step."""
    campaign = data.load("campaign", n_rows=fit_rows, seed=seed)
    frame, target = campaign.frame, campaign.target
    X, y = frame.drop(columns=target), frame[target]
    pipe = models.make_pipeline("xgboost", frame, target, "binary", seed=seed)
    preprocess, model = pipe.named_steps["preprocess"], pipe.named_steps["model"]
    encoded = preprocess.fit_transform(X, y)

    steps = [
        ("simulate_campaign", simulate_rows,
         lambda: data.simulate_campaign(simulate_rows, seed=seed)),
        ("preprocess (fit_transform)", fit_rows, lambda: preprocess.fit_transform(X, y)),
        ("xgboost fit (default hyperparameters)", fit_rows, lambda: model.fit(encoded, y)),
        ("pipeline fit (preprocess + xgboost)", fit_rows, lambda: pipe.fit(X, y)),
    ]
    baselines = {}
    results = []
    for name, n_rows, step in steps:
        if n_rows not in baselines:
            baselines[n_rows] = best_time(lambda n=n_rows: baseline(n, seed), repeat)
        seconds = best_time(step, repeat)
        results.append({
            "step": name,
            "rows": n_rows,
            "seconds": seconds,
            "baseline_seconds": baselines[n_rows],
            "ratio": seconds / baselines[n_rows],
        })
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulate-rows", type=int, default=1_000_000,
                        help="rows drawn by simulate_campaign (default 1,000,000)")
    parser.add_argument("--fit-rows", type=int, default=100_000,
                        help="rows preprocessed and fitted (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per step; the fastest counts (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.simulate_rows, args.fit_rows, args.repeat) < 1:
        parser.error("--simulate-rows, --fit-rows and --repeat must be positive")

    print(f"numpy {np.__version__}, pandas {pd.__version__}, scikit-learn {sklearn.__version__}, "
          f"xgboost {xgboost.__version__}; {os.cpu_count()} CPUs; best of {args.repeat} runs")
    print(f"baseline: draw rows x {BASELINE_COLUMNS} random floats (NumPy), sort them (pandas)")
    table = pd.DataFrame(measure(args.simulate_rows, args.fit_rows, args.repeat, args.seed))
    print(table.to_string(index=False, formatters={
        "rows": "{:,}".format,
        "seconds": "{:.3f}".format,
        "baseline_seconds": "{:.3f}".format,
        "ratio": "{:.1f}x".format,
    }))


if __name__ == "__main__":
    main()
