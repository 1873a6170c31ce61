#!/usr/bin/env python3
"""AlgoPerf's scoring of several workloads, transcribed with numpy, as the reference for
`lrsched compare --workloads` (crates/lrsched-tools/src/compare/workloads.rs).

Writes crates/lrsched-tools/tests/fixtures/algoperf_reference.json, which
crates/lrsched-tools/tests/algoperf_reference.rs checks.

The formulas are AlgoPerf's own (mlcommons/algorithmic-efficiency at commit 2c90454f,
`scoring/performance_profile.py` and `scoring/score_submissions.py`), line for line but
on numpy arrays instead of pandas frames (pandas is not needed for so few numbers):

- `get_workloads_time_to_target`: a study's time is the time its run reached the target,
  `inf` when it never did; a submission's time on a workload is `np.median` over its
  studies. lrsched's seeds are AlgoPerf's studies (one run each: no tuning trials).
- `compute_performance_profiles(max_tau=4.0, num_points=100, scale='linear')`:
  `best_scores = df.min(axis=0)`; times above `4 * best_scores` set to `inf`; divided by
  the per-workload minimum; `points = np.linspace(min_tau, max_tau, num=num_points)`;
  `rho(r, tau) = (r <= tau).sum(axis=1) / NUM_BASE_WORKLOADS`.
- `compute_leaderboard_score(df, normalize=True)`: `np.trapz(df, x=df.columns)` divided by
  `df.columns.max() - df.columns.min()`.

Also written, to check lrsched's own numbers: the exact area under each profile (the
trapezoid's limit; AlgoPerf's 100-point trapezoid is within 1/198 of it) and lrsched's
speed-up, the geometric mean of baseline time over time on the workloads both reached.
(AlgoPerf's `compute_speedups.py` instead puts a missed target at the workload's budget
plus one and averages over all workloads; it needs budgets lrsched does not have.)

Run:  python3 scripts/algoperf_reference.py   (needs numpy)
"""
import json
import os

import numpy as np

INF = float("inf")

# Per schedule ("submission"), per workload, per seed ("study"): the time to the target.
# Chosen to exercise each rule: a tie at a ratio of exactly 2.0 (a grid point of
# linspace(1, 4, 100)), a ratio above 4 (set to inf by the 4x rule), a median that is inf
# because half the seeds missed, a workload no schedule reached, a ratio of exactly 4.
SCHEDULES = ["constant", "cosine", "one-cycle", "prodigy"]
WORKLOADS = ["digits", "mnist", "xor", "spirals", "never"]
TIMES = {
    "constant": [[4, 4, 5], [6, 7, 8], [40, 50, INF], [10, 12, 11], [INF, INF, INF]],
    "cosine": [[2, 2, 3], [3, 4, 4], [20, 25, 22], [30, INF, INF], [INF, INF, INF]],
    "one-cycle": [[3, 3, 3], [14, 15, 16], [12, 11, 10], [9, 8, 9], [INF, INF, INF]],
    "prodigy": [[8, 9, 8], [2, INF, 2], [44, 40, 48], [36, 36, 36], [INF, INF, INF]],
}
MAX_TAU = 4.0
NUM_POINTS = 100


def main():
    # get_workloads_time_to_target: median over studies.
    df = np.array([[np.median(seeds) for seeds in TIMES[s]] for s in SCHEDULES])
    num_workloads = df.shape[1]
    # compute_performance_profiles.
    best_scores = df.min(axis=0)
    df4 = df.copy()
    df4[df4 > 4 * best_scores] = INF
    with np.errstate(invalid="ignore"):
        ratios = df4 / df4.min(axis=0)  # inf / inf on the workload nobody reached: nan
    points = np.linspace(1.0, MAX_TAU, num=NUM_POINTS)

    def rho(r, tau):
        return (r <= tau).sum(axis=1) / num_workloads

    perf = np.stack([rho(ratios, tau) for tau in points], axis=1)
    # compute_leaderboard_score(normalize=True).
    trapz = getattr(np, "trapezoid", None) or np.trapz
    scores = trapz(perf, x=points, axis=1) / (points.max() - points.min())
    exact = []
    for r in ratios:
        kept = [x for x in r if np.isfinite(x) and x <= MAX_TAU]
        exact.append(sum(MAX_TAU - max(x, 1.0) for x in kept) / ((MAX_TAU - 1.0) * num_workloads))
    base = df[0]
    speedups = []
    for row in df:
        logs = [np.log(b / x) for b, x in zip(base, row) if np.isfinite(b) and np.isfinite(x)]
        speedups.append(float(np.exp(np.mean(logs))) if logs else None)

    def fin(x):
        return float(x) if np.isfinite(x) else None

    doc = {
        "made_by": "scripts/algoperf_reference.py",
        "algoperf_commit": "2c90454f",
        "numpy": np.__version__,
        "schedules": SCHEDULES,
        "workloads": WORKLOADS,
        "seed_times": {s: [[fin(x) for x in w] for w in TIMES[s]] for s in SCHEDULES},
        "median_times": [[fin(x) for x in row] for row in df],
        "ratios": [[fin(x) for x in row] for row in ratios],
        "tau": [float(t) for t in points],
        "rho": [[float(x) for x in row] for row in perf],
        "score_trapezoid": [float(x) for x in scores],
        "score_exact": exact,
        "speedup_vs_first": speedups,
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "crates/lrsched-tools/tests/fixtures/algoperf_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")
    for s, a, b in zip(SCHEDULES, scores, exact):
        print(f"{s:10s} AlgoPerf (trapezoid, 100 points) {a:.6f}  exact {b:.6f}")


if __name__ == "__main__":
    main()
