#!/usr/bin/env python3
"""scheduler.step() through lrsched_rs.torch.LRScheduler against the PyTorch class's own.

For StepLR, CosineAnnealingLR, OneCycleLR and a SequentialLR, both schedulers drive an
SGD optimizer (one param group, and --groups 4: four, each with its own rate) on the same
machine; the time per step() is measured
over a window of steps starting at step 10 and at step 10^6 (both schedulers are stepped
there first), best of --repeat windows. Also times Schedule.values(10**6) and a random
access Schedule.value(10**6).

    python python/bench/bench_step.py            # after scripts/test-all --python
"""

import argparse
import time
import warnings

import torch
import torch.optim.lr_scheduler as S

import lrsched_rs
import lrsched_rs.torch

FAR = 10**6

CASES = {
    "StepLR": ({"type": "StepLR", "step_size": 30, "gamma": 0.1},
               lambda o: S.StepLR(o, step_size=30, gamma=0.1)),
    "CosineAnnealingLR": ({"type": "CosineAnnealingLR", "T_max": 1000},
                          lambda o: S.CosineAnnealingLR(o, T_max=1000)),
    "OneCycleLR": ({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 2 * FAR},
                   lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=2 * FAR)),
    "SequentialLR": ({"type": "SequentialLR", "milestones": [100],
                      "schedulers": [{"type": "LinearLR", "start_factor": 0.1, "total_iters": 100},
                                     {"type": "CosineAnnealingLR", "T_max": 1000}]},
                     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=100),
                                                  S.CosineAnnealingLR(o, T_max=1000)],
                                              milestones=[100])),
}


def optimizer(groups=1):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1 / (i + 1)}
                            for i in range(groups)], lr=0.1, momentum=0.9)


def per_step(sched, at, window, repeat):
    """Seconds per step() over `repeat` windows of `window` steps from step `at`."""
    for _ in range(at):
        sched.step()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(window):
            sched.step()
        best = min(best, (time.perf_counter() - t) / window)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--groups", type=int, nargs="+", default=[1, 4],
                    help="param group counts to time (each group its own rate)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, lrsched {lrsched_rs.__version__}; us per step(), best of "
          f"{args.repeat} windows of {args.window}")
    print(f"{'scheduler':<20}{'groups':>7}{'at step':>10}{'torch':>10}{'lrsched':>10}"
          f"{'ratio':>8}")
    for groups in args.groups:
        for name, (config, factory) in CASES.items():
            for at in (10, FAR):
                t_torch = per_step(factory(optimizer(groups)), at, args.window, args.repeat)
                t_ours = per_step(lrsched_rs.torch.LRScheduler(optimizer(groups), config), at,
                                  args.window, args.repeat)
                print(f"{name:<20}{groups:>7}{at:>10}{t_torch * 1e6:>10.2f}{t_ours * 1e6:>10.2f}"
                      f"{t_torch / t_ours:>7.1f}x")
    for text in ["cosine(lr=0.1, steps=1000000)",
                 "warmup(steps=1000, schedule=cosine(lr=0.1, steps=1000000))",
                 '{"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 1000}',
                 '{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 1000000}']:
        s = lrsched_rs.Schedule(text)
        t = time.perf_counter()
        v = s.values(FAR)
        t_values = time.perf_counter() - t
        s = lrsched_rs.Schedule(text)
        t = time.perf_counter()
        s.value(FAR)
        t_value = time.perf_counter() - t
        print(f"{s.type:<20} values(10**6): {t_values * 1e3:7.1f} ms ({type(v).__name__}); "
              f"value(10**6) from scratch: {t_value * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
