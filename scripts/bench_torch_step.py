#!/usr/bin/env python3
"""Times PyTorch's `scheduler.step()` on this machine, to compare with lrsched's driver.

Only the scheduler step is timed: the optimizer steps once before timing (so PyTorch
does not warn about the call order) and never inside the timed loop. Each scheduler is
stepped `--steps` times per repetition; the best of `--repeat` repetitions is reported
as microseconds per step (the minimum is the least disturbed by other work on the box,
as `timeit` recommends).

Usage:
    python3 scripts/bench_torch_step.py [--steps 100000] [--repeat 5] [--json out.json]

It uses the torch venv at .venv-torch (the one the golden-trace script creates) when it
exists and the running interpreter has no torch; otherwise it creates its own venv at
/tmp/lrsched-bench-venv and installs CPU torch there.
"""

import argparse
import json
import os
import sys
import time
import warnings

from golden_common import ROOT, first_venv, rerun_with

VENVS = [os.path.join(ROOT, ".venv-torch"), "/tmp/lrsched-bench-venv"]


def ensure_torch():
    """Re-runs this script under a Python that has torch, installing it if need be."""
    try:
        import torch  # noqa: F401

        return
    except ImportError:
        pass
    if os.environ.get("LRSCHED_BENCH_REEXEC"):
        sys.exit("torch is not importable even in the venv")
    py = first_venv(VENVS, ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"])
    rerun_with(py, __file__, "LRSCHED_BENCH_REEXEC")


def make(name, steps):
    import torch
    from torch.optim import lr_scheduler as L

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    # One optimizer step first: PyTorch warns when scheduler.step() precedes it.
    param.grad = torch.zeros(1)
    opt.step()
    if name == "StepLR":
        sched = L.StepLR(opt, step_size=30, gamma=0.1)
    elif name == "CosineAnnealingLR":
        sched = L.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
    elif name == "OneCycleLR":
        # total_steps covers every repetition: OneCycleLR raises past its end.
        sched = L.OneCycleLR(opt, max_lr=0.1, total_steps=steps * 64)
    elif name == "LambdaLR":
        sched = L.LambdaLR(opt, lr_lambda=lambda s: 1.0 / (1.0 + s) ** 0.5)
    elif name == "ReduceLROnPlateau":
        sched = L.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=10)
    elif name == "Warmup+Cosine (SequentialLR)":
        warm = L.LinearLR(opt, start_factor=0.01, total_iters=1000)
        cos = L.CosineAnnealingLR(opt, T_max=steps)
        sched = L.SequentialLR(opt, [warm, cos], milestones=[1000])
    else:
        raise ValueError(name)
    return sched


def time_one(name, steps, repeat):
    sched = make(name, steps)
    plateau = name == "ReduceLROnPlateau"
    # A metric that mostly improves but stalls now and then, so the plateau logic runs.
    metrics = [1.0 / (1 + (i // 7)) for i in range(steps)]
    best = float("inf")
    for _ in range(repeat):
        if plateau:
            step = sched.step
            t0 = time.perf_counter()
            for m in metrics:
                step(m)
            t1 = time.perf_counter()
        else:
            step = sched.step
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            t1 = time.perf_counter()
        best = min(best, (t1 - t0) / steps)
    return best * 1e6


def main():
    ensure_torch()
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    names = [
        "StepLR",
        "CosineAnnealingLR",
        "OneCycleLR",
        "LambdaLR",
        "ReduceLROnPlateau",
        "Warmup+Cosine (SequentialLR)",
    ]
    results = {}
    print(f"torch {torch.__version__}, python {sys.version.split()[0]}, "
          f"{args.steps} steps x best of {args.repeat}")
    for name in names:
        us = time_one(name, args.steps, args.repeat)
        results[name] = us
        print(f"{name:32s} {us:8.3f} us/step")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "steps": args.steps,
                       "repeat": args.repeat, "us_per_step": results}, f, indent=2)


if __name__ == "__main__":
    main()
