#!/usr/bin/env python3
"""Reference numbers for lrsched's scores (crates/lrsched-tools/src/scoring.rs).

Writes crates/lrsched-tools/tests/fixtures/scoring_reference.json: for each case, its
inputs and what numpy and scipy say, as rliable computes it:

- IQM: scipy.stats.trim_mean(x, 0.25) (rliable.metrics.aggregate_iqm);
- median: numpy.median;
- probability of improvement: scipy.stats.mannwhitneyu(x, y).statistic / (n * m), 0.5 for
  identical samples (rliable.metrics.probability_of_improvement for one task);
- 95% percentile bootstrap intervals (rliable: arch's bootstrap, method "percentile",
  numpy.percentile's linear interpolation), drawn twice:
  * `shared`: with the very indices lrsched draws (SplitMix64 from the same seed, each
    index the high 64 bits of next() * n), so Rust must agree to 1e-12;
  * `numpy`: with numpy's own generator and 20000 resamples, an independent bootstrap
    that Rust must agree with within a tolerance (the test's, stated there);
- Student t quantiles t(0.975, df) and t(0.95, df) from scipy, for lrsched's tables;
- AlgoPerf's performance profiles over workloads: ratios to the fastest time, rho(tau) on
  a grid, the benchmark score (area under rho from 1 to 4, over 3) by numerical
  integration on a fine grid (a check independent of lrsched's exact step-function sum,
  so agreement within the grid's step), and the geometric-mean speed-up.

Run:  python3 scripts/scoring_reference.py   (needs numpy and scipy)
"""
import json
import os

import numpy as np
import scipy.stats

MASK = (1 << 64) - 1
REPS = 5000


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next() * n) >> 64


def iqm(x):
    return float(scipy.stats.trim_mean(np.asarray(x, dtype=float), 0.25))


def median(x):
    return float(np.median(np.asarray(x, dtype=float)))


def poi(x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if np.array_equal(x, y):
        return 0.5
    u = scipy.stats.mannwhitneyu(x, y, alternative="greater").statistic
    return float(u) / (len(x) * len(y))


def interval(stats):
    lo, hi = np.percentile(np.asarray(stats), [2.5, 97.5])
    return [float(lo), float(hi)]


def shared_ci(x, stat, seed):
    rng = SplitMix64(seed)
    n = len(x)
    out = []
    for _ in range(REPS):
        out.append(stat([x[rng.below(n)] for _ in range(n)]))
    return interval(out)


def shared_poi_ci(x, y, seed):
    rng = SplitMix64(seed)
    out = []
    for _ in range(REPS):
        bx = [x[rng.below(len(x))] for _ in range(len(x))]
        by = [y[rng.below(len(y))] for _ in range(len(y))]
        out.append(poi(bx, by))
    return interval(out)


def numpy_ci(x, stat, seed):
    g = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    idx = g.integers(0, len(x), size=(20000, len(x)))
    return interval([stat(x[i]) for i in idx])


def numpy_poi_ci(x, y, seed):
    g = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ix = g.integers(0, len(x), size=(20000, len(x)))
    iy = g.integers(0, len(y), size=(20000, len(y)))
    return interval([poi(x[a], y[b]) for a, b in zip(ix, iy)])


CASES = [
    # (name, x, y, seed): final accuracies over seeds, as compare sees them.
    ("three seeds", [0.951, 0.962, 0.944], [0.948, 0.957, 0.949], 1),
    ("four seeds, an outlier", [0.97, 0.971, 0.969, 0.20], [0.96, 0.962, 0.958, 0.961], 2),
    ("identical", [0.9, 0.91, 0.92, 0.93, 0.94], [0.9, 0.91, 0.92, 0.93, 0.94], 3),
    ("ties and a clear winner", [0.8, 0.8, 0.9, 0.9, 0.95, 0.97], [0.7, 0.8, 0.8, 0.85, 0.6, 0.9], 4),
    ("ten noisy seeds", [0.5 + 0.03 * ((7 * k) % 10) for k in range(10)],
     [0.52 + 0.025 * ((3 * k) % 10) for k in range(10)], 5),
    ("two seeds", [0.93, 0.95], [0.94, 0.92], 6),
]


def main():
    cases = []
    for name, x, y, seed in CASES:
        cases.append({
            "name": name, "x": x, "y": y, "seed": seed, "reps": REPS,
            "median_x": median(x), "iqm_x": iqm(x), "iqm_y": iqm(y),
            "poi_xy": poi(x, y),
            "shared": {
                "iqm_ci_x": shared_ci(x, iqm, seed),
                "median_ci_x": shared_ci(x, median, seed),
                "poi_ci_xy": shared_poi_ci(x, y, seed),
            },
            "numpy": {
                "iqm_ci_x": numpy_ci(x, iqm, seed),
                "median_ci_x": numpy_ci(x, median, seed),
                "poi_ci_xy": numpy_poi_ci(x, y, seed),
            },
        })
    tq = {
        "df": list(range(1, 41)),
        "t975": [float(scipy.stats.t.ppf(0.975, df)) for df in range(1, 41)],
        "t95": [float(scipy.stats.t.ppf(0.95, df)) for df in range(1, 41)],
    }
    inf = float("inf")
    times = [[10.0, 4.0, 300.0, inf], [20.0, inf, 250.0, inf], [12.0, 6.0, 900.0, inf]]
    t = np.asarray(times)
    best = np.min(t, axis=0)
    with np.errstate(invalid="ignore"):
        ratios = np.where(np.isfinite(t), t / best, inf)
    taus = [1.0, 1.2, 1.5, 2.0, 3.0, 4.0]
    grid = np.linspace(1.0, 4.0, 300001)
    profiles = {
        "times": [[x if np.isfinite(x) else None for x in row] for row in times],
        "ratios": [[float(x) if np.isfinite(x) else None for x in row] for row in ratios],
        "taus": taus,
        "rho": [[float(np.mean(r <= tau)) for tau in taus] for r in ratios],
        "score": [float(np.trapezoid([np.mean(r <= g) for g in grid[::100]], grid[::100]) / 3.0)
                  for r in ratios],
        "speedup_vs_first": [
            float(np.exp(np.mean([np.log(b / x) for b, x in zip(times[0], row)
                                  if np.isfinite(b) and np.isfinite(x)])))
            for row in times
        ],
    }
    doc = {
        "made_by": "scripts/scoring_reference.py",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "splitmix64_seed0_first": SplitMix64(0).next(),
        "cases": cases,
        "t": tq,
        "profiles": profiles,
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "crates/lrsched-tools/tests/fixtures/scoring_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
